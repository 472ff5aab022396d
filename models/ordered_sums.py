"""Gradient sums in a fixed order, so a seeded run retrains the same weights bit for bit.

Why: Grappler's memory optimizer (its "scheduling pass") rewrites every AddN of more than two inputs that is live at
the graph's estimated peak into a temporary variable plus one AssignAdd per input. Those AssignAdds run as their
inputs become ready, so the float sum's order, and its last bits, follow thread timing. The pass runs only when the
estimated peak exceeds half the device's memory, and Grappler takes a CPU's memory to be 256 MiB on this machine
(what `tensorflow.python.grappler.cluster.Cluster().ListDevices()` reports), so every full-size CPU training step
qualifies while the tiny preset's does not. In Vitrine the editor's condition vector feeds every FiLM layer of three
editor calls, and the sum of those gradients was the first thing to differ between two seeded cpu-quick runs (step
2, `bench/results/seed_repeat_s31_*`). TF's op determinism does not turn the pass off.

`ordered_gradient_sums()` turns the memory optimizer off for the tf.functions first called inside it, from this
thread (Grappler reads the options when a function is first run; the rest of Grappler stays on). TF 2.16 has no
public switch for this pass (`tf.config.optimizer.set_experimental_options` does not expose it), so it sets the
thread's function call options: the ConfigProto that Grappler reads.
"""
import contextlib

from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.eager import context


def _memory_optimization(options: "context.FunctionCallOptions") -> int:
    return config_pb2.ConfigProto.FromString(options.config_proto_serialized).graph_options.rewrite_options \
        .memory_optimization


@contextlib.contextmanager
def ordered_gradient_sums(enabled: bool = True):
    """Within: functions first run from this thread keep AddN (no memory-optimizer rewrite). No-op when not enabled."""
    if not enabled:
        yield
        return
    ctx = context.context()
    previous = ctx.function_call_options
    config = config_pb2.ConfigProto.FromString(previous.config_proto_serialized)
    config.graph_options.rewrite_options.memory_optimization = rewriter_config_pb2.RewriterConfig.NO_MEM_OPT
    ctx.function_call_options = context.FunctionCallOptions(executor_type=previous.executor_type,
                                                            config_proto=config)
    try:
        yield
    finally:
        ctx.function_call_options = previous


def gradient_sums_ordered() -> bool:
    """Whether functions first run now, from this thread, keep their AddN order (for logs and tests)."""
    return _memory_optimization(context.context().function_call_options) == \
        rewriter_config_pb2.RewriterConfig.NO_MEM_OPT
