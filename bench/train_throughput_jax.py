"""Training throughput on a machine without TensorFlow: the JAX ports of the full step and the baseline.

    KERAS_BACKEND=jax python bench/train_throughput_jax.py --presets gpu gpu-large
    KERAS_BACKEND=jax python bench/train_throughput_jax.py --presets cpu-quick --steps 10   # next to the TF bench

Same rows as bench/train_throughput.py (images/s of the full G+E+D step and of the keras.io-style conditional
DCGAN at the same resolution and batch, and their ratio), for the steps bench/jax_steps.py ports pass for pass.
Both steps run under `jax.jit`, so both are XLA-compiled: the baseline is not left without XLA as the TF bench
leaves it (a stricter comparison for the full step). Mixed precision is Keras' mixed_float16 with dynamic loss
scaling, as in training. Batches are drawn on the device before timing (the step's cost, not an input
pipeline's); every timed step waits for its results, as the TF bench does. Warm-up steps (compilation) are timed
apart. Writes JSON (default bench/results/train_throughput_jax.json), rewritten after every row.

On a machine with JAX but no Keras (session 34's lent H200: Python 3.12, JAX 0.11.2, no registry), carry Keras and
its two missing needs as wheels, downloaded where pip works:
    pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
and there: pip install --no-index --no-deps --target /tmp/site .whl/*.whl; PYTHONPATH=/tmp/site. Compiling the
full step took 71 s (float32) to 173 s (mixed precision) on the H200: leave a call room for it.
"""
import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.portable import portable_command  # noqa: E402

STEPPERS = ("full", "full_one_backward", "baseline")


def random_batches(key, count, batch, resolution, vocab):
    """`count` batches on the device: images uniform in [-1, 1] and an id per attribute of `vocab`."""
    import jax

    out = []
    for k in jax.random.split(key, count):
        k_img, *k_ids = jax.random.split(k, 1 + len(vocab))
        out.append({"image": jax.random.uniform(k_img, (batch, resolution, resolution, 3), minval=-1.0, maxval=1.0),
                    **{a: jax.random.randint(ki, (batch,), 0, v) for (a, v), ki in zip(vocab.items(), k_ids)}})
    return out


def time_step(stepper, batches, warmup: int, steps: int, max_seconds: float, seed: int = 0):
    """-> (seconds, steps timed, warm-up seconds, last logs as floats)."""
    import jax

    step = jax.jit(stepper.step, donate_argnums=(0,))
    state = stepper.init()
    keys = iter(jax.random.split(jax.random.PRNGKey(seed), warmup + steps + 1))
    start = time.perf_counter()
    for i in range(max(1, warmup)):
        state, logs = step(state, batches[i % len(batches)], next(keys))
        jax.block_until_ready(logs)
    warm = time.perf_counter() - start
    start, done = time.perf_counter(), 0
    while done < steps and (done < 2 or time.perf_counter() - start < max_seconds):
        state, logs = step(state, batches[done % len(batches)], next(keys))
        jax.block_until_ready(logs)
        done += 1
    return time.perf_counter() - start, done, warm, {k: float(v) for k, v in logs.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["gpu", "gpu-large"])
    parser.add_argument("--batch", type=int, help="override every preset's batch size")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="per timing, after warm-up")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--mixed-precision", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override on every preset")
    parser.add_argument("--steps-timed", nargs="+", choices=sorted(STEPPERS), default=["full", "baseline"],
                        help="which steps to time; full_one_backward: G's and E's gradients in one backward pass "
                             "through D (not the TF step; same gradients)")
    parser.add_argument("--vocab", type=int, nargs=2, default=[20, 30], metavar=("ARTICLE_TYPES", "COLOURS"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "train_throughput_jax.json"))
    args = parser.parse_args(argv)

    import jax
    import keras
    from bench.jax_steps import BaselineStep, FullStep
    from models.config import ModelConfig
    from pipeline.cli import _parse_overrides
    from pipeline.presets import full_step_preset

    device = jax.devices()[0]
    device_name = (device.device_kind if device.platform != "cpu"
                   else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    vocab = {"articleType": args.vocab[0], "baseColour": args.vocab[1]}
    overrides = _parse_overrides(args.set)
    results = []
    out = pathlib.Path(args.out)
    for preset_name in args.presets:
        preset = full_step_preset(preset_name, overrides)
        for mp in args.mixed_precision:
            batch = args.batch or preset.model.batch_size
            cfg = preset.model.replace(batch_size=batch, jit_compile=True, mixed_precision=mp == "on")
            base_cfg = ModelConfig(resolution=cfg.resolution, batch_size=batch, z_dim=cfg.z_dim)
            row = {"preset": preset_name, "resolution": cfg.resolution, "batch": batch, "xla": True,
                   "mixed_precision": mp == "on", "warmup": args.warmup,
                   "widths": {"generator": cfg.gen_channels, "discriminator": cfg.disc_channels,
                              "editor": cfg.editor_channels}, "r1_every": cfg.r1_every}
            batches = random_batches(jax.random.PRNGKey(1), 4, batch, cfg.resolution, vocab)
            try:
                build = {"full": lambda: FullStep(cfg, vocab),
                         "full_one_backward": lambda: FullStep(cfg, vocab, one_backward=True),
                         "baseline": lambda: BaselineStep(base_cfg, vocab)}
                for name in args.steps_timed:
                    keras.utils.clear_session()
                    stepper = build[name]()
                    row[f"params_{name}"] = stepper.params()
                    seconds, done, warm, logs = time_step(stepper, batches, args.warmup, args.steps, args.max_seconds)
                    row[f"{name}_images_per_s"] = round(batch * done / seconds, 2)
                    row[f"{name}_steps"] = done
                    row[f"{name}_warmup_s"] = round(warm, 1)
                    row[f"{name}_last_losses"] = {k: round(v, 4) for k, v in logs.items()}
                for name in ("full", "full_one_backward"):
                    if f"{name}_images_per_s" in row and "baseline_images_per_s" in row:
                        suffix = "" if name == "full" else "_one_backward"
                        row[f"ratio_full{suffix}_over_baseline"] = round(
                            row[f"{name}_images_per_s"] / row["baseline_images_per_s"], 4)
                        row[f"baseline_over_full{suffix}"] = round(
                            row["baseline_images_per_s"] / row[f"{name}_images_per_s"], 2)
            except Exception as exc:  # e.g. out of device memory at a big preset: record it, go on
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            print(json.dumps(row), flush=True)
            results.append(row)
            report = {"device": device_name, "backend": f"keras {keras.__version__} on jax {jax.__version__}",
                      "overrides": overrides, "python": platform.python_version(), "cpus": os.cpu_count(),
                      "vocab_sizes": vocab, "command": portable_command("bench/train_throughput_jax.py", argv),
                      "configs": results,
                      "note": "JAX ports of both steps (bench/jax_steps.py), both under jax.jit (XLA); full = the "
                              "Vitrine G+E+D step pass for pass, baseline = keras.io-style conditional DCGAN."}
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
