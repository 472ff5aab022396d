"""Floating-point work of one training step, counted from its traced graph (no step is run).

    train_step_flops(model, batch, resolution, vocab_sizes) -> FLOPs of one `model.train_step` on a batch

TensorFlow's registered per-op statistics are summed over the step's graph: forward convolutions and matmuls,
their gradients (Conv2DBackpropInput/Filter), element-wise ops, optimizer updates. Ops inside a `tf.cond`
branch live in a nested function and are not counted; `vitrine_step_flops` therefore counts the lazy R1
penalty separately and spreads it over its interval, which makes it the average work per step.
Throughput divided by this work says whether a slower step is doing more or doing it less efficiently.
"""
from typing import Mapping


def train_step_flops(model, batch: int, resolution: int, vocab_sizes: Mapping[str, int]) -> int:
    """FLOPs of one train_step at a static batch shape. `model` must be compiled (its optimizers built)."""
    import tensorflow as tf
    from tensorflow.python.framework import ops

    spec = {"image": tf.TensorSpec([batch, resolution, resolution, 3], tf.float32),
            **{f"{a}_id": tf.TensorSpec([batch], tf.int64) for a in vocab_sizes}}
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    total = 0
    for op in graph.get_operations():
        try:
            stats = ops.get_stats_for_node_def(graph, op.node_def, "flops")
        except ValueError:  # an op whose shapes are not static enough to count
            continue
        total += int(stats.value or 0)
    return total


def vitrine_step_flops(cfg, vocab_sizes: Mapping[str, int]) -> dict:
    """Average FLOPs per VitrineGAN step for `cfg`: {"per_step", "r1_per_due_step", "per_image"}."""
    import keras

    from models import networks
    from models.gan import VitrineGAN

    def count(c):
        keras.utils.clear_session()
        model = VitrineGAN(networks.build_generator(c, vocab_sizes), networks.build_editor(c, vocab_sizes),
                           networks.build_discriminator(c, vocab_sizes), c, vocab_sizes)
        model.compile()
        return train_step_flops(model, c.batch_size, c.resolution, vocab_sizes)

    without_r1 = count(cfg.replace(r1_gamma=0.0))
    r1 = count(cfg.replace(r1_every=1)) - without_r1 if cfg.r1_gamma > 0 else 0
    per_step = without_r1 + r1 / max(cfg.r1_every, 1)
    return {"per_step": int(per_step), "r1_per_due_step": int(r1), "per_image": per_step / cfg.batch_size}
