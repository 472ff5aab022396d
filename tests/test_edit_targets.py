"""models/edit_targets.py: evaluation edits ask for another value, with the catalog's own frequencies."""
import numpy as np

from models.edit_targets import draw_edit_targets


def test_targets_differ_from_source_and_follow_the_pool_frequencies():
    rng = np.random.default_rng(0)
    pool = np.array([0] * 700 + [1] * 200 + [2] * 100)  # a long tail: value 3 of the vocabulary never occurs
    sources = np.zeros(4000, dtype=np.int64)  # every source is the common value 0
    targets = draw_edit_targets(rng, sources, pool, vocab_size=4)
    assert (targets != sources).all()
    counts = np.bincount(targets, minlength=4)
    assert counts[3] == 0 and counts[0] == 0
    assert abs(counts[1] / len(targets) - 2 / 3) < 0.03  # 200 : 100 among the values other than the source
    sources = np.full(3000, 2)
    counts = np.bincount(draw_edit_targets(rng, sources, pool, 4), minlength=4)
    assert counts[2] == 0 and abs(counts[0] / 3000 - 0.7 / 0.9) < 0.03


def test_fallbacks_when_the_pool_has_no_other_value():
    rng = np.random.default_rng(1)
    targets = draw_edit_targets(rng, np.array([2, 2, 2, 2]), np.array([2, 2, -1]), vocab_size=5)
    assert ((targets != 2) & (targets >= 0) & (targets < 5)).all()  # a uniform other value of the vocabulary
    np.testing.assert_array_equal(draw_edit_targets(rng, np.array([0, 0]), np.array([0]), vocab_size=1), [0, 0])
    assert draw_edit_targets(rng, np.array([], dtype=np.int64), np.array([0, 1]), 2).shape == (0,)
