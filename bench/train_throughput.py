"""Training throughput: images/s of the full VitrineGAN train_step vs. a plain conditional DCGAN.

    python bench/train_throughput.py --resolutions 32 64 --batch 16 --steps 10 --warmup 3 --xla off on

Per resolution x XLA x mixed precision (mixed precision only where a GPU is present); warm-up steps
(including tracing/compilation) are excluded. Writes JSON (default bench/results/train_throughput.json).
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


def _dataset(tf, resolution, batch, vocab):
    n = batch * 4
    return tf.data.Dataset.from_tensor_slices({
        "image": tf.random.uniform((n, resolution, resolution, 3), -1.0, 1.0),
        **{f"{a}_id": tf.random.uniform((n,), 0, v, tf.int64) for a, v in vocab.items()},
    }).batch(batch, drop_remainder=True).repeat().prefetch(2)


def _time_model(model, dataset, warmup, steps):
    iterator = iter(dataset)
    model.make_train_function()
    train = model.train_function
    start = time.perf_counter()
    for _ in range(warmup):
        logs = train(iterator)
    {k: float(v) for k, v in logs.items()}  # wait for the device
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        logs = train(iterator)
    {k: float(v) for k, v in logs.items()}
    return time.perf_counter() - start, warm


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--xla", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--mixed-precision", nargs="+", choices=["off", "on"], default=["off", "on"],
                        help="'on' is skipped without a GPU")
    parser.add_argument("--vocab", type=int, nargs=2, default=[20, 30], metavar=("ARTICLE_TYPES", "COLOURS"))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "train_throughput.json"))
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf
    from models import networks
    from models.baseline_dcgan import ConditionalDCGAN
    from models.config import ModelConfig
    from models.gan import VitrineGAN

    gpus = tf.config.list_physical_devices("GPU")
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus
              else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    vocab = {"articleType": args.vocab[0], "baseColour": args.vocab[1]}
    results = []
    for resolution in args.resolutions:
        for xla in args.xla:
            for mp in args.mixed_precision:
                if mp == "on" and not gpus:
                    continue
                cfg = ModelConfig(resolution=resolution, batch_size=args.batch, jit_compile=xla == "on",
                                  mixed_precision=mp == "on")
                row = {"resolution": resolution, "batch": args.batch, "xla": xla == "on", "mixed_precision": mp == "on",
                       "steps": args.steps, "warmup": args.warmup}
                for name in ("full", "baseline"):
                    keras.utils.clear_session()
                    if name == "full":
                        model = VitrineGAN(networks.build_generator(cfg, vocab), networks.build_editor(cfg, vocab),
                                           networks.build_discriminator(cfg, vocab), cfg, vocab)
                        row["params_full"] = int(sum(m.count_params() for m in
                                                     (model.generator, model.editor, model.discriminator)))
                    else:
                        # the baseline runs without mixed precision (plain keras.io recipe)
                        model = ConditionalDCGAN(cfg, vocab)
                        row["params_baseline"] = int(model.generator.count_params() + model.discriminator.count_params())
                    model.compile()
                    seconds, warm = _time_model(model, _dataset(tf, resolution, args.batch, vocab), args.warmup, args.steps)
                    row[f"{name}_images_per_s"] = round(args.batch * args.steps / seconds, 2)
                    row[f"{name}_warmup_s"] = round(warm, 1)
                row["ratio_full_over_baseline"] = round(row["full_images_per_s"] / row["baseline_images_per_s"], 4)
                print(json.dumps(row), flush=True)
                results.append(row)
    report = {"device": device, "tensorflow": tf.__version__, "keras": keras.__version__,
              "python": platform.python_version(), "vocab_sizes": vocab, "configs": results,
              "note": "full = VitrineGAN train_step (D step with R1 + DiffAugment, G step, E step with pair and "
                      "cycle losses, EMA update); baseline = keras.io-style conditional DCGAN (D step + G step)."}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
