"""Does the discriminator's attribute classifier memorise the training images? Its accuracy and cross-entropy on
real training images against held-out real eval images, for saved discriminators of one run.

    python bench/d_classifier_gap.py --work-dir RUN/pipeline --preset cpu-quick \\
        --checkpoint SCRATCH/run/train/checkpoints/step-00005400 --checkpoint RUN_SCRATCH/model/assets.extra/keras

A train/eval gap that widens with the step is the discriminator's classifier fitting the training set; the
generator, trained to satisfy that classifier (`cls_weight`), follows it. Also reports the adversarial output's
mean on train and eval reals (ADA's overfitting signal: eval reals drift towards the fake side). Unaugmented
images, the discriminator in inference mode. Writes JSON (default bench/results/d_classifier_gap.json).
"""
import argparse
import glob
import json
import logging
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _batches(files, cfg, limit):
    from models.training import make_dataset

    seen = 0
    for batch in make_dataset(files, cfg, 256, training=False):
        batch = {k: v[:limit - seen] for k, v in batch.items()}  # exactly `limit` images (or all the split has)
        yield batch
        seen += int(batch["image"].shape[0])
        if seen >= limit:
            return


def score(discriminator, files, cfg, vocab_sizes, limit):
    """{attr: {accuracy, cross_entropy}, adv_mean, n} of the discriminator on up to `limit` real images."""
    import numpy as np
    import tensorflow as tf

    from models.training import id_feature

    correct = {a: 0 for a in cfg.condition_attributes}
    entropy = {a: 0.0 for a in cfg.condition_attributes}
    adv, n = 0.0, 0
    for batch in _batches(files, cfg, limit):
        ids = {a: batch[id_feature(a)] for a in cfg.condition_attributes}
        conditions = {a: tf.one_hot(ids[a], vocab_sizes[a]) for a in cfg.condition_attributes}
        out = discriminator({"image": batch["image"], **conditions}, training=False)
        for a in cfg.condition_attributes:
            logits = out[a]
            correct[a] += int(np.sum(np.argmax(logits, -1) == ids[a].numpy()))
            entropy[a] += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(ids[a], logits)))
        adv += float(tf.reduce_sum(out["adv"]))
        n += int(batch["image"].shape[0])
    result = {a: {"accuracy": correct[a] / n, "cross_entropy": entropy[a] / n} for a in cfg.condition_attributes}
    return {**result, "adv_mean": adv / n, "n": n}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", required=True, help="the pipeline run whose Transform output trained the model")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="the overrides the model trained with")
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="a directory holding discriminator.weights.h5 (a checkpoint or an export's "
                             "assets.extra/keras); repeat to compare")
    parser.add_argument("--limit", type=int, default=2048, help="at most this many images per split")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "d_classifier_gap.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from bench.eval_cost import find_artifacts
    from bench.portable import portable, portable_command
    from components.gan_evaluation import vocabulary_files
    from models.export import read_vocabulary
    from models.networks import build_discriminator
    from pipeline.cli import _parse_overrides
    from pipeline.pipeline import default_paths
    from pipeline.presets import get_preset

    cfg = get_preset(args.preset, _parse_overrides(args.set)).model
    found = find_artifacts(default_paths(args.work_dir)["pipeline_root"], need_model=False)
    vocab_files = vocabulary_files(found["transform_graph"], cfg.condition_attributes)
    vocab_sizes = {a: len(read_vocabulary(vocab_files[a])) for a in cfg.condition_attributes}
    splits = {s: sorted(glob.glob(os.path.join(found["examples"], f"Split-{s}", "*.gz"))) for s in ("train", "eval")}
    rows = []
    for directory in args.checkpoint:
        started = time.time()
        discriminator = build_discriminator(cfg, vocab_sizes)
        discriminator.load_weights(os.path.join(directory, "discriminator.weights.h5"))
        row = {"checkpoint": portable(directory)}
        for split, files in splits.items():
            row[split] = score(discriminator, files, cfg, vocab_sizes, args.limit)
        row["gap"] = {a: row["train"][a]["accuracy"] - row["eval"][a]["accuracy"] for a in cfg.condition_attributes}
        row["seconds"] = round(time.time() - started, 1)
        rows.append(row)
        print(f"{row['checkpoint']}: " + "; ".join(
            f"{a} train {row['train'][a]['accuracy']:.3f} / eval {row['eval'][a]['accuracy']:.3f} "
            f"(CE {row['train'][a]['cross_entropy']:.2f} / {row['eval'][a]['cross_entropy']:.2f})"
            for a in cfg.condition_attributes) + f"; adv train {row['train']['adv_mean']:.2f} / eval "
            f"{row['eval']['adv_mean']:.2f}", flush=True)
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "d_classifier_gap",
                               "command": portable_command("bench/d_classifier_gap.py", argv or sys.argv[1:]),
                               "preset": args.preset, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
