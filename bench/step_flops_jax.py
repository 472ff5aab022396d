"""Floating-point work per image of the JAX ports of both steps, as XLA counts it after compiling them.

    python bench/step_flops_jax.py --presets tiny cpu-quick gpu gpu-large

bench/step_flops.py counts the TF steps' traced graphs, before TF prunes or fuses anything, and the README reads
those counts as an upper bound. XLA's cost analysis counts the compiled program of bench/jax_steps.py instead
(float32; the lazy R1 sits in a conditional, whose cost XLA reports as it does). Two counts of the same passes by
two tools: if the ports dropped or doubled a pass, the two counts' full/baseline ratios would part. Compiles on
the CPU (JAX_PLATFORMS=cpu unless set), no step runs. Writes JSON (default bench/results/step_flops_jax.json).
"""
import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.portable import portable_command  # noqa: E402


def xla_flops(stepper, batch, key) -> float:
    """XLA's count of floating-point operations of one compiled step."""
    import jax

    analysis = jax.jit(stepper.step).lower(stepper.init(), batch, key).compile().cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    return float(analysis["flops"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "cpu-quick", "gpu", "gpu-large"])
    parser.add_argument("--vocab", type=int, nargs=2, default=[20, 30], metavar=("ARTICLE_TYPES", "COLOURS"))
    parser.add_argument("--one-backward", action="store_true",
                        help="also count FullStep(one_backward=True): G's and E's gradients in one pass through D")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "step_flops_jax.json"))
    args = parser.parse_args(argv)

    import jax
    import keras
    from bench.jax_steps import BaselineStep, FullStep
    from bench.train_throughput_jax import random_batches
    from models.config import ModelConfig
    from pipeline.presets import full_step_preset

    vocab = {"articleType": args.vocab[0], "baseColour": args.vocab[1]}
    rows = []
    for name in args.presets:
        cfg = full_step_preset(name).model.replace(mixed_precision=False, jit_compile=True)
        base_cfg = ModelConfig(resolution=cfg.resolution, batch_size=cfg.batch_size, z_dim=cfg.z_dim)
        batch = random_batches(jax.random.PRNGKey(0), 1, cfg.batch_size, cfg.resolution, vocab)[0]
        row = {"preset": name, "resolution": cfg.resolution, "batch": cfg.batch_size}
        makers = (("full", lambda: FullStep(cfg, vocab)), ("baseline", lambda: BaselineStep(base_cfg, vocab)))
        if args.one_backward:
            makers += (("full_one_backward", lambda: FullStep(cfg, vocab, one_backward=True)),)
        for label, make in makers:
            keras.utils.clear_session()
            row[f"{label}_xla_mflop_per_image"] = round(xla_flops(make(), batch, jax.random.PRNGKey(1))
                                                        / cfg.batch_size / 1e6, 1)
        row["work_ratio_full_over_baseline"] = round(row["full_xla_mflop_per_image"]
                                                     / row["baseline_xla_mflop_per_image"], 2)
        print(json.dumps(row), flush=True)
        rows.append(row)
    report = {"backend": f"keras {keras.__version__} on jax {jax.__version__} ({jax.devices()[0].platform})",
              "vocab_sizes": vocab, "command": portable_command("bench/step_flops_jax.py", argv), "presets": rows}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
