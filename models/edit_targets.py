"""Which value an evaluation edit asks for: another value drawn with the catalog's own frequencies.

    draw_edit_targets(rng, source_ids, pool_ids, vocab_size) -> int64 [n] target ids, each != its source id

Both the evaluator (pool = the eval split) and the training-time judge monitor (pool = training examples) use it.
Drawing targets uniformly over the vocabulary instead asks, on a long-tail catalog, mostly for values seen a
handful of times: on the shared catalog (74 article types, 44 colours) three category edits in four targeted a type
outside the 20 most common, where neither the model nor the judge has much to go on, and edit success read 21 % while
generation control, which follows the eval split's distribution, read 76 %. Frequency-weighted targets are what
merchandisers mostly ask for, and the population on which the judge's own real-image accuracy (the ceiling the
evaluator divides by) is measured.
"""
import numpy as np


def draw_edit_targets(rng: np.random.Generator, source_ids, pool_ids, vocab_size: int) -> np.ndarray:
    """For each source id, a different id drawn with the pool's frequencies (the source's own value excluded).

    A source whose value is the only one in the pool gets a uniform other id of the vocabulary; with a
    one-value vocabulary the target is the source itself.
    """
    pool = np.asarray(pool_ids, dtype=np.int64)
    values, counts = np.unique(pool[pool >= 0], return_counts=True)
    sources = np.asarray(source_ids, dtype=np.int64)
    targets = np.empty(len(sources), dtype=np.int64)
    for i, source in enumerate(sources):
        other = values != source
        if other.any():
            targets[i] = rng.choice(values[other], p=counts[other] / counts[other].sum())
        elif vocab_size > 1:
            targets[i] = (source + rng.integers(1, vocab_size)) % vocab_size
        else:
            targets[i] = source
    return targets
