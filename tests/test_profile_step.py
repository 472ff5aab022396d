"""bench/profile_step.py: op events summed per part of the step, and nothing but op events."""
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.profile_step import part_of, summarise  # noqa: E402


def test_each_scope_the_step_gives_its_calls_lands_in_its_network_and_pass():
    prefix = "StatefulPartitionedCall/"
    assert part_of(prefix + "gradient_tape/editor_3/e_down0_conv1_1/convolution/Conv2DBackpropInput") == \
        "editor backward"
    assert part_of(prefix + "discriminator_1/d_block0_conv1_1/BiasAdd") == "discriminator forward"
    assert part_of(prefix + "while/body/_897/while/generator_3/g_block0/Mul") == "generator forward"
    assert part_of(prefix + "gradient_tape/cond/then/_12/gradient_tape/discriminator_2/x") == "lazy R1 (its branch)"
    assert part_of(prefix + "cond/then/_12/discriminator_2/d_block0/Conv2D") == "lazy R1 (its branch)"
    assert part_of(prefix + "g_adam/Adam/update/AssignSubVariableOp") == "optimizers"
    assert part_of(prefix + "MaxPool2d") == "other"


def test_summarise_counts_op_events_once_and_skips_the_function_call_that_contains_them(tmp_path):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    names = {1: "StatefulPartitionedCall/gradient_tape/editor_3/conv/Conv2DBackpropInput:Conv2DBackpropInput",
             2: "StatefulPartitionedCall/discriminator_1/conv/Conv2D:_FusedConv2D",
             3: "TraceContext: __inference_multi_step_on_iterator_1",  # a tf.function call: contains the ops
             4: "ExecutorState::Process"}
    for key, name in names.items():
        plane.event_metadata[key].id = key
        plane.event_metadata[key].name = name
    compute = plane.lines.add(name="tf_Compute/1")
    for key, ps in ((1, 3_000_000_000), (2, 1_000_000_000), (4, 5_000_000_000), (1, 1_000_000_000)):
        compute.events.add(metadata_id=key, duration_ps=ps)
    plane.lines.add(name="python").events.add(metadata_id=3, duration_ps=9_000_000_000)
    path = tmp_path / "host.xplane.pb"
    path.write_bytes(space.SerializeToString())

    summary = summarise(str(path), steps=2)
    assert summary["op_ms_per_step"] == 2.5  # (3 + 1 + 1) ms over 2 steps
    assert summary["parts"]["editor backward"] == {"ms_per_step": 2.0, "share": 0.8}
    assert summary["parts"]["discriminator forward"] == {"ms_per_step": 0.5, "share": 0.2}
    assert set(summary["op_types"]) == {"Conv2DBackpropInput", "_FusedConv2D"}
