"""models.ordered_sums: large sums stay one AddN (no AssignAdd accumulation in thread order) inside the context."""
import pytest
import tensorflow as tf
from tensorflow.python.eager import context

from models.config import ModelConfig
from models.ordered_sums import gradient_sums_ordered, ordered_gradient_sums


def _grappler_cpu_memory() -> int:
    """The CPU memory Grappler plans with (bytes): its scheduling pass rewrites sums when the peak passes half."""
    from tensorflow.python.grappler import cluster

    local = cluster.Cluster()
    try:
        return min(d.properties.memory_size for d in local.ListDevices() if d.properties.type == "CPU")
    finally:
        local.Shutdown()


def _sum_of_four(elements: int):
    @tf.function
    def total(seed):
        parts = [tf.random.stateless_normal([elements], seed=seed + i) * float(i + 1) for i in range(4)]
        return tf.add_n(parts)

    return total


def _ops_after_grappler(function) -> set:
    """The op types of `function`'s graph as it ran, after Grappler (its first call)."""
    context.enable_run_metadata()
    try:
        function(tf.constant([1, 2]))
        metadata = context.export_run_metadata()
    finally:
        context.disable_run_metadata()
    ops = set()
    for graph in metadata.function_graphs:
        ops.update(node.op for node in graph.post_optimization_graph.node)
        for library_function in graph.post_optimization_graph.library.function:
            ops.update(node.op for node in library_function.node_def)
    return ops


def test_a_large_sum_is_rewritten_by_default_and_kept_inside_ordered_gradient_sums():
    memory = _grappler_cpu_memory()
    if not 0 < memory <= 2**30:
        pytest.skip(f"Grappler plans with {memory} bytes of CPU memory here: the test's sum would not fit")
    elements = memory // 4 // 4  # four float32 inputs that together are the whole planned memory (> half)

    assert "TemporaryVariable" in _ops_after_grappler(_sum_of_four(elements)), \
        "the memory optimizer no longer rewrites large sums on this TF build: models/ordered_sums.py may be moot"
    with ordered_gradient_sums():
        assert gradient_sums_ordered()
        kept = _ops_after_grappler(_sum_of_four(elements))
    assert "AddN" in kept and "TemporaryVariable" not in kept and "AssignAdd" not in kept
    assert not gradient_sums_ordered()
    assert "TemporaryVariable" in _ops_after_grappler(_sum_of_four(elements))  # the thread's options are restored


def test_ordered_gradient_sums_is_on_by_default_and_can_be_turned_off():
    assert ModelConfig().ordered_gradient_sums
    with ordered_gradient_sums(enabled=False):
        assert not gradient_sums_ordered()
    with ordered_gradient_sums(enabled=True):
        assert gradient_sums_ordered()
