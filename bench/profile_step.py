"""Where the full training step's time goes: TensorFlow's profiler over a few steps, summed per network and pass.

    python bench/profile_step.py --preset cpu-quick --out bench/results/profile_step_cpu-quick.json
    TF_ENABLE_ONEDNN_OPTS=0 python bench/profile_step.py ...      # Eigen's CPU kernels instead of oneDNN's

Builds the preset's VitrineGAN as bench/train_throughput.py does (random images, the preset's batch), traces and
warms the step, times --steps steps without the profiler and --steps with it, then reads the profiler's trace
(XSpace protobuf) and sums the duration of every TensorFlow op, per op type and per part of the step: each
network's forward and backward passes (the scope TensorFlow gives each call: generator_1, gradient_tape/editor_3,
...), the lazy R1 branch, the optimizers, the rest. Op time is summed over every thread that ran ops, so on a
2-core machine it is up to twice the wall time. Writes JSON.
"""
import argparse
import collections
import glob
import json
import os
import pathlib
import platform
import re
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.portable import portable_command  # noqa: E402
from models.onednn import ENV as ONEDNN_ENV, cpu_vector_extensions, onednn_enabled, prefer_onednn  # noqa: E402

NETWORKS = ("generator", "editor", "discriminator")
# A TensorFlow op's event is "scope/name:OpType"; "TraceContext: __inference_…" (a tf.function call, whose time
# contains its ops') and "ExecutorState::Process" are not ops.
OP_EVENT = re.compile(r"^([^\s:]+):([A-Za-z_][A-Za-z0-9_]*)$")


def part_of(op_name: str) -> str:
    """'StatefulPartitionedCall/gradient_tape/editor_3/e_down0_conv1_1/...' -> 'editor backward'."""
    scope = re.sub(r"StatefulPartitionedCall/|while/body/_\d+/|while/", "", op_name).split("/")
    backward = scope[0] == "gradient_tape"
    if backward:
        scope = scope[1:]
    head = re.sub(r"_\d+$", "", scope[0]) if scope else ""
    if head in NETWORKS:
        return f"{head} {'backward' if backward else 'forward'}"
    if head == "cond":
        return "lazy R1 (its branch)"
    if head.endswith("_adam"):
        return "optimizers"
    return "other (backward)" if backward else "other"


def summarise(xspace_path: str, steps: int) -> dict:
    """Op milliseconds per step from a profiler trace: total, per part of the step, per op type."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(pathlib.Path(xspace_path).read_bytes())
    parts, types = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU" and not plane.name.startswith("/device:"):
            continue
        for line in plane.lines:
            for event in line.events:
                match = OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                if not match:  # the runtime's own events, and the function calls that contain the ops
                    continue
                op, op_type = match.groups()
                ms = event.duration_ps / 1e9
                parts[part_of(op)] += ms
                types[op_type] += ms
    total = sum(parts.values())
    per_step = lambda counter, top=None: {k: {"ms_per_step": round(v / steps, 1),  # noqa: E731
                                             "share": round(v / total, 4) if total else 0.0}
                                         for k, v in counter.most_common(top)}
    return {"op_ms_per_step": round(total / steps, 1), "parts": per_step(parts), "op_types": per_step(types, 15)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--steps", type=int, default=8, help="timed without the profiler, then profiled")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="preset override, e.g. model.r1_every=1")
    parser.add_argument("--vocab", type=int, nargs=2, default=[20, 30], metavar=("ARTICLE_TYPES", "COLOURS"))
    parser.add_argument("--trace-dir", help="keep the profiler's trace here (TensorBoard's profile plugin reads it)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "profile_step.json"))
    args = parser.parse_args(argv)

    prefer_onednn()
    import keras
    import tensorflow as tf
    from bench.train_throughput import _dataset
    from models import networks
    from models.gan import VitrineGAN
    from models.ordered_sums import ordered_gradient_sums
    from pipeline.cli import _parse_overrides
    from pipeline.presets import full_step_preset

    cfg = full_step_preset(args.preset, _parse_overrides(args.set)).model
    vocab = {"articleType": args.vocab[0], "baseColour": args.vocab[1]}
    model = VitrineGAN(networks.build_generator(cfg, vocab), networks.build_editor(cfg, vocab),
                       networks.build_discriminator(cfg, vocab), cfg, vocab)
    model.compile()
    scratch = None if args.trace_dir else tempfile.TemporaryDirectory(prefix="profile_step_")
    trace_dir = args.trace_dir or scratch.name

    def run(steps):
        start = time.perf_counter()
        for _ in range(steps):
            logs = train(iterator)
        {k: float(v) for k, v in logs.items()}  # wait for the device
        return time.perf_counter() - start

    with ordered_gradient_sums(cfg.ordered_gradient_sums):
        iterator = iter(_dataset(tf, cfg.resolution, cfg.batch_size, vocab))
        model.make_train_function()
        train = model.train_function
        warm = run(args.warmup)
        plain = run(args.steps)
        tf.profiler.experimental.start(trace_dir)
        profiled = run(args.steps)
        tf.profiler.experimental.stop()
    traces = sorted(glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True))
    if not traces:
        raise SystemExit(f"the profiler wrote no trace under {trace_dir}")
    summary = summarise(traces[-1], args.steps)
    if scratch:
        scratch.cleanup()
    gpus = tf.config.list_physical_devices("GPU")
    report = {
        "benchmark": "profile_step", "command": portable_command("bench/profile_step.py", argv),
        "note": "Op time per step summed over every thread that ran TensorFlow ops (up to cores x wall time on a "
                "CPU). parts: each network's forward and backward passes over all of its calls in the step; lazy "
                "R1's branch runs every r1_every steps, its share is the average.",
        "preset": args.preset, "overrides": args.set or [], "resolution": cfg.resolution, "batch": cfg.batch_size,
        "device": (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus
                   else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        ONEDNN_ENV: os.environ.get(ONEDNN_ENV, ""), "onednn_kernels": onednn_enabled(),
        "cpu_vector_extensions": cpu_vector_extensions(),
        "warmup_s": round(warm, 1), "steps": args.steps,
        "images_per_s": round(cfg.batch_size * args.steps / plain, 2),
        "images_per_s_profiled": round(cfg.batch_size * args.steps / profiled, 2),
        "wall_ms_per_step": round(1000 * plain / args.steps, 1), **summary,
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for part, row in report["parts"].items():
        print(f"{part:28s} {row['ms_per_step']:8.1f} ms/step  {100 * row['share']:5.1f} %")
    print(f"{report['images_per_s']} img/s ({'oneDNN' if report['onednn_kernels'] else 'Eigen'} kernels); wrote {out}")


if __name__ == "__main__":
    main()
