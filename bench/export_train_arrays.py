"""A pipeline run's training images as one compressed array file, for training where TensorFlow cannot run.

    python bench/export_train_arrays.py --work-dir RUN --preset gpu --out .jaxdata/train_64.npz

Reads the latest Transform output under the run's pipeline root, the same records the Trainer reads
(`make_dataset(..., records="train")`: the train split, less the judge's held-out records when the preset holds
some out), unshuffled and unaugmented; writes images as uint8 (bench/jax_input.py `to_uint8`: the Transform's
[-1, 1] floats to the nearest of 256 levels, at most 1/255 off), one int32 id per condition attribute and a
`meta` JSON (attributes, vocabulary sizes and values, resolution, record count, source). bench/train_gan_jax.py
trains on it; a 64x64 export of the shared catalog's 7,218 training records is 31.7 MiB, inside what a call to a
lent GPU machine may carry.
"""
import argparse
import glob
import json
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def export_arrays(train_files, cfg, vocabulary_files, out: str, source: str = "") -> dict:
    """Writes the npz; returns its metadata."""
    import numpy as np

    from bench.jax_input import to_uint8
    from models.export import read_vocabulary
    from models.training import id_feature, make_dataset

    images, ids = [], {a: [] for a in cfg.condition_attributes}
    for batch in make_dataset(train_files, cfg, 256, training=False, records="train"):
        images.append(to_uint8(batch["image"].numpy()))
        for a in cfg.condition_attributes:
            ids[a].append(batch[id_feature(a)].numpy().astype(np.int32))
    vocab = {a: read_vocabulary(vocabulary_files[a]) for a in cfg.condition_attributes}
    meta = {"attributes": list(cfg.condition_attributes), "resolution": cfg.resolution,
            "records": int(sum(len(x) for x in images)), "vocab_sizes": {a: len(v) for a, v in vocab.items()},
            "vocabularies": vocab, "judge_holdout": cfg.judge_holdout, "source": source}
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=np.concatenate(images), meta=np.array(json.dumps(meta)),
                        **{f"{a}_id": np.concatenate(v) for a, v in ids.items()})
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", required=True, help="a finished pipeline run's work dir (its Transform output)")
    parser.add_argument("--preset", default="gpu", help="whose resolution and records (judge_holdout) to read")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="preset override")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from bench.eval_cost import find_transform
    from bench.portable import portable
    from components.gan_evaluation import vocabulary_files
    from pipeline.cli import _parse_overrides
    from pipeline.pipeline import default_paths
    from pipeline.presets import get_preset

    cfg = get_preset(args.preset, _parse_overrides(args.set)).model
    found = find_transform(default_paths(args.work_dir)["pipeline_root"])
    train_files = sorted(glob.glob(os.path.join(found["examples"], "Split-train", "*.gz")))
    started = time.time()
    meta = export_arrays(train_files, cfg, vocabulary_files(found["transform_graph"], cfg.condition_attributes),
                         args.out, source=portable(found["examples"]))
    size = os.path.getsize(args.out) / 2**20
    print(f"wrote {args.out}: {meta['records']} records at {meta['resolution']}x{meta['resolution']}, "
          f"vocabularies {meta['vocab_sizes']}, {size:.1f} MiB in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
