"""Training throughput: images/s of the full VitrineGAN train_step vs. a plain conditional DCGAN.

    python bench/train_throughput.py                       # every preset, its own widths and batch
    python bench/train_throughput.py --presets cpu-quick --steps 30 --xla off

Per preset x XLA x mixed precision (float16 on a GPU; bfloat16 on a CPU with AVX512_BF16 or AMX, else skipped;
models/precision.py; the row's dtype_policy says which): the full step uses the
preset's ModelConfig (widths, batch, lazy R1 interval); the baseline is a keras.io-style conditional DCGAN
(G 128 channels, D 64) at the same resolution and batch. Warm-up steps (tracing/compilation) are excluded;
each timing stops after --steps steps or --max-seconds, whichever comes first (at least 2 steps), so the big
presets stay affordable on a CPU. Each row also holds both steps' FLOPs per image, counted from their graphs
(bench/step_flops.py), so a slower full step can be told apart from a less efficient one. Writes JSON (default
bench/results/train_throughput.json).
"""
import argparse
import json
import os
import pathlib
import platform
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.portable import portable_command  # noqa: E402
from models.onednn import ENV as ONEDNN_ENV, cpu_vector_extensions, onednn_enabled, prefer_onednn  # noqa: E402


def _dataset(tf, resolution, batch, vocab):
    n = batch * 4
    return tf.data.Dataset.from_tensor_slices({
        "image": tf.random.uniform((n, resolution, resolution, 3), -1.0, 1.0),
        **{f"{a}_id": tf.random.uniform((n,), 0, v, tf.int64) for a, v in vocab.items()},
    }).batch(batch, drop_remainder=True).repeat().prefetch(2)


def _time_model(model, dataset, warmup, steps, max_seconds):
    """-> (seconds, steps timed, warm-up seconds)."""
    iterator = iter(dataset)
    model.make_train_function()
    train = model.train_function
    start = time.perf_counter()
    for _ in range(warmup):
        logs = train(iterator)
    {k: float(v) for k, v in logs.items()}  # wait for the device
    warm = time.perf_counter() - start
    start = time.perf_counter()
    done = 0
    while done < steps and (done < 2 or time.perf_counter() - start < max_seconds):
        logs = train(iterator)
        {k: float(v) for k, v in logs.items()}
        done += 1
    return time.perf_counter() - start, done, warm


def _work(cache, preset_name, cfg, base_cfg, vocab, row) -> dict:
    """FLOPs per image of both steps (counted from their graphs, once per preset) and what they imply."""
    from bench.step_flops import train_step_flops, vitrine_step_flops
    from models.baseline_dcgan import ConditionalDCGAN

    if preset_name not in cache:
        baseline = ConditionalDCGAN(base_cfg, vocab)
        baseline.compile()
        cache[preset_name] = (vitrine_step_flops(cfg, vocab)["per_image"],
                              train_step_flops(baseline, base_cfg.batch_size, base_cfg.resolution, vocab)
                              / base_cfg.batch_size)
    full, base = cache[preset_name]
    work_ratio = full / base
    return {"full_mflop_per_image": round(full / 1e6, 1), "baseline_mflop_per_image": round(base / 1e6, 1),
            "work_ratio_full_over_baseline": round(work_ratio, 2),
            # > 1: the full step gets more FLOP/s out of the machine than the baseline does
            "flop_rate_full_over_baseline": round(work_ratio * row["ratio_full_over_baseline"], 3)}


def _report(device, tf, keras, vocab, results, argv, overrides) -> dict:
    return {"device": device, "overrides": overrides, "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version(), "cpus": os.cpu_count(), "vocab_sizes": vocab,
            ONEDNN_ENV: os.environ.get(ONEDNN_ENV, ""), "onednn_kernels": onednn_enabled(),
            "cpu_vector_extensions": cpu_vector_extensions(),
            "command": portable_command("bench/train_throughput.py", argv),
            "configs": results,
            "note": "full = VitrineGAN train_step (one G and E forward; D step with lazy R1 + DiffAugment; G step; "
                    "E step with pair and cycle losses; EMA update); baseline = keras.io-style conditional DCGAN "
                    "(D step + G step, no XLA, no mixed precision). mflop_per_image: floating-point work per "
                    "image of one step, counted from the traced step graph (bench/step_flops.py; lazy R1 "
                    "averaged over its interval); flop_rate_full_over_baseline = work ratio x throughput ratio."}


def _write(path, report) -> pathlib.Path:
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "cpu-quick", "gpu", "gpu-large"])
    parser.add_argument("--batch", type=int, help="override every preset's batch size")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per timing, after warm-up")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--xla", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--mixed-precision", nargs="+", choices=["off", "on"], default=["off", "on"],
                        help="'on': float16 on a GPU (or the preset's mixed_precision_dtype); bfloat16 on a CPU "
                             "with AVX512_BF16 or AMX, skipped on other CPUs")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override on every preset, e.g. model.d_editor_fake_share=0 (an A/B of the full step)")
    parser.add_argument("--vocab", type=int, nargs=2, default=[20, 30], metavar=("ARTICLE_TYPES", "COLOURS"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "train_throughput.json"))
    args = parser.parse_args(argv)

    prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py); TF_ENABLE_ONEDNN_OPTS=0 for Eigen's
    import keras
    import tensorflow as tf
    from models import networks, precision
    from models.baseline_dcgan import ConditionalDCGAN
    from models.config import ModelConfig
    from models.gan import VitrineGAN
    from models.ordered_sums import ordered_gradient_sums
    from pipeline.cli import _parse_overrides
    from pipeline.presets import full_step_preset

    gpus = tf.config.list_physical_devices("GPU")
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus
              else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    vocab = {"articleType": args.vocab[0], "baseColour": args.vocab[1]}
    overrides = _parse_overrides(args.set)
    results = []
    flops_cache = {}  # per preset: the same overrides throughout a run
    for preset_name in args.presets:
        preset = full_step_preset(preset_name, overrides)
        for xla in args.xla:
            for mp in args.mixed_precision:
                model_cfg = preset.model
                if mp == "on" and not gpus:  # a CPU: bfloat16 where it has the instructions (models/precision.py)
                    if not precision.bfloat16_on_this_cpu():
                        continue
                    model_cfg = model_cfg.replace(mixed_precision=True, mixed_precision_dtype="bfloat16")
                batch = args.batch or preset.model.batch_size
                cfg = model_cfg.replace(batch_size=batch, jit_compile=xla == "on", mixed_precision=mp == "on")
                base_cfg = ModelConfig(resolution=cfg.resolution, batch_size=batch, z_dim=cfg.z_dim)
                row = {"preset": preset_name, "resolution": cfg.resolution, "batch": batch, "xla": xla == "on",
                       "mixed_precision": mp == "on", "warmup": args.warmup,
                       "dtype_policy": precision.policy_name(cfg),
                       "ordered_gradient_sums": cfg.ordered_gradient_sums,
                       "widths": {"generator": cfg.gen_channels, "discriminator": cfg.disc_channels,
                                  "editor": cfg.editor_channels}, "r1_every": cfg.r1_every}
                try:
                    for name in ("full", "baseline"):
                        keras.utils.clear_session()
                        if name == "full":
                            model = VitrineGAN(networks.build_generator(cfg, vocab), networks.build_editor(cfg, vocab),
                                               networks.build_discriminator(cfg, vocab), cfg, vocab)
                            row["params_full"] = int(sum(m.count_params() for m in
                                                         (model.generator, model.editor, model.discriminator)))
                            # a preset's warm-up is off here (full_step_preset); with --set model.editor_from_step > 0
                            # the timed step is the warm-up's, whatever the step count
                            row["full_step"] = "G+E+D" if model.editor_training else "G+D (the editor's warm-up)"
                            if model.editor_training and cfg.editor_batch_fraction < 1.0:
                                row["full_step"] += f" (the editor on {cfg.editor_batch_fraction:g} of the batch)"
                        else:
                            # the baseline runs without mixed precision or XLA (plain keras.io recipe)
                            model = ConditionalDCGAN(base_cfg, vocab)
                            row["params_baseline"] = int(model.generator.count_params() + model.discriminator.count_params())
                        model.compile()
                        with ordered_gradient_sums(cfg.ordered_gradient_sums):  # both steps, as training runs
                            seconds, done, warm = _time_model(model, _dataset(tf, cfg.resolution, batch, vocab),
                                                              args.warmup, args.steps, args.max_seconds)
                        row[f"{name}_images_per_s"] = round(batch * done / seconds, 2)
                        row[f"{name}_steps"] = done
                        row[f"{name}_warmup_s"] = round(warm, 1)
                    row["ratio_full_over_baseline"] = round(row["full_images_per_s"] / row["baseline_images_per_s"], 4)
                    row["baseline_over_full"] = round(row["baseline_images_per_s"] / row["full_images_per_s"], 2)
                    row.update(_work(flops_cache, preset_name, cfg, base_cfg, vocab, row))
                except (tf.errors.ResourceExhaustedError, tf.errors.InternalError) as exc:
                    # e.g. XLA on a CPU host asking for more memory than it has: record it, go on
                    lines = [ln for ln in str(exc).splitlines() if "memory" in ln.lower()] or str(exc).splitlines()
                    row["error"] = f"{type(exc).__name__}: {lines[0].strip()[:300]}"
                print(json.dumps(row), flush=True)
                results.append(row)
                # partial results survive a crash
                _write(args.out, _report(device, tf, keras, vocab, results, argv, overrides))
    out = _write(args.out, _report(device, tf, keras, vocab, results, argv, overrides))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
