"""A pipeline run's training images as one compressed array file, for training where TensorFlow cannot run.

    python bench/export_train_arrays.py --work-dir RUN --preset gpu --out .jaxdata/train_64.npz

Reads the latest Transform output under the run's pipeline root, the same records the Trainer reads
(`make_dataset(..., records="train")`: the train split, less the judge's held-out records when the preset holds
some out), unshuffled and unaugmented; writes images as uint8 (bench/jax_input.py `to_uint8`: the Transform's
[-1, 1] floats to the nearest of 256 levels, at most 1/255 off), one int32 id per condition attribute and a
`meta` JSON (attributes, vocabulary sizes and values, resolution, record count, source). bench/train_gan_jax.py
trains on it; a 64x64 export of the shared catalog's 7,218 training records is 31.7 MiB, inside what a call to a
lent GPU machine may carry.

With `--judge` (the run's JudgeTrainer output, "latest" for the newest) the file also carries what the JAX
trainer's judge monitor (bench/jax_monitor.py) needs to pick weights as the Trainer does: the judge's variables
(read from its SavedModel's checkpoint into models/judge_network.py's network, every variable matched) as
`judge_wNNNN` with their paths and shapes in `meta["judge"]`, and, when the preset holds records out
(`model.judge_holdout`), those records as `heldout_images` and `heldout_<attribute>_id`.
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
from models.onednn import prefer_onednn  # noqa: E402

prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py), before TensorFlow is imported


def read_records(train_files, cfg, records: str):
    """-> (uint8 images [N,R,R,3], {attribute: int32 ids [N]}) of `make_dataset(..., records=records)`."""
    import numpy as np

    from bench.jax_input import to_uint8
    from models.training import id_feature, make_dataset

    images, ids = [], {a: [] for a in cfg.condition_attributes}
    for batch in make_dataset(train_files, cfg, 256, training=False, records=records):
        images.append(to_uint8(batch["image"].numpy()))
        for a in cfg.condition_attributes:
            ids[a].append(batch[id_feature(a)].numpy().astype(np.int32))
    if not images:
        raise ValueError(f"no {records} records in {train_files} (judge_holdout {cfg.judge_holdout})")
    return np.concatenate(images), {a: np.concatenate(v) for a, v in ids.items()}


def judge_variables(judge_path: str, cfg, vocab_sizes) -> tuple:
    """The judge SavedModel's variables, in models/judge_network.py `build_judge` order -> (arrays, entries).
    Its checkpoint is read into a freshly built network; a variable of another shape or one left unmatched (a
    judge of other `judge_channels`, vocabularies or resolution) is an error."""
    import tensorflow as tf

    from models.judge_network import build_judge

    model = build_judge(cfg, vocab_sizes)
    prefix = os.path.join(judge_path, "variables", "variables")
    saved = sorted(tuple(shape) for name, shape in tf.train.list_variables(prefix)
                   if name.startswith("model/") and "optimizer" not in name and name.endswith("VARIABLE_VALUE"))
    built = sorted(tuple(v.shape) for v in model.variables if "seed_generator" not in v.path)  # dropout's: unsaved
    if saved != built:
        raise ValueError(f"the judge at {judge_path} does not fit a judge of judge_channels={cfg.judge_channels} at "
                         f"{cfg.resolution} px: its variables' shapes differ (first conv kernel: saved "
                         f"{[s for s in saved if len(s) == 4 and s[2] == 3]}, built {tuple(model.variables[0].shape)})")
    status = tf.train.Checkpoint(model=model).read(prefix)
    status.assert_existing_objects_matched().expect_partial()  # the optimizer's slots stay behind
    arrays = [v.numpy() for v in model.variables]
    entries = [{"path": v.path, "shape": list(a.shape)} for v, a in zip(model.variables, arrays)]
    return arrays, entries


def export_arrays(train_files, cfg, vocabulary_files, out: str, source: str = "", judge_path: str = "") -> dict:
    """Writes the npz; returns its metadata."""
    import numpy as np

    from bench.portable import portable
    from models.export import read_vocabulary

    images, ids = read_records(train_files, cfg, "train")
    vocab = {a: read_vocabulary(vocabulary_files[a]) for a in cfg.condition_attributes}
    vocab_sizes = {a: len(v) for a, v in vocab.items()}
    meta = {"attributes": list(cfg.condition_attributes), "resolution": cfg.resolution,
            "records": int(len(images)), "vocab_sizes": vocab_sizes,
            "vocabularies": vocab, "judge_holdout": cfg.judge_holdout, "source": source}
    extra = {}
    if judge_path:
        summary = json.loads(pathlib.Path(judge_path, "assets.extra", "judge.json").read_text())
        if summary.get("vocab_sizes") != vocab_sizes or summary.get("resolution") != cfg.resolution:
            raise ValueError(f"the judge at {judge_path} was trained for vocabularies {summary.get('vocab_sizes')} "
                             f"at {summary.get('resolution')} px; these records have {vocab_sizes} at "
                             f"{cfg.resolution} px")
        arrays, entries = judge_variables(judge_path, cfg, vocab_sizes)
        meta["judge"] = {"channels": cfg.judge_channels, "variables": entries, "summary": summary,
                         "source": portable(judge_path)}
        extra.update({f"judge_w{i:04d}": a for i, a in enumerate(arrays)})
        if cfg.judge_holdout > 0:
            held_images, held_ids = read_records(train_files, cfg, "heldout")
            meta["heldout_records"] = int(len(held_images))
            extra.update(heldout_images=held_images, **{f"heldout_{a}_id": v for a, v in held_ids.items()})
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, meta=np.array(json.dumps(meta)),
                        **{f"{a}_id": v for a, v in ids.items()}, **extra)
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", required=True, help="a finished pipeline run's work dir (its Transform output)")
    parser.add_argument("--preset", default="gpu", help="whose resolution and records (judge_holdout) to read")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="preset override")
    parser.add_argument("--judge", default="",
                        help="a judge SavedModel to carry (for bench/train_gan_jax.py --judge), or 'latest': the run's "
                             "newest JudgeTrainer output")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from bench.eval_cost import find_artifacts, find_transform
    from bench.portable import portable
    from components.gan_evaluation import vocabulary_files
    from pipeline.cli import _parse_overrides
    from pipeline.pipeline import default_paths
    from pipeline.presets import get_preset

    cfg = get_preset(args.preset, _parse_overrides(args.set)).model
    root = default_paths(args.work_dir)["pipeline_root"]
    found = find_transform(root)
    judge = find_artifacts(root, need_model=False)["judge"] if args.judge == "latest" else args.judge
    train_files = sorted(glob.glob(os.path.join(found["examples"], "Split-train", "*.gz")))
    started = time.time()
    meta = export_arrays(train_files, cfg, vocabulary_files(found["transform_graph"], cfg.condition_attributes),
                         args.out, source=portable(found["examples"]), judge_path=judge)
    size = os.path.getsize(args.out) / 2**20
    print(f"wrote {args.out}: {meta['records']} records at {meta['resolution']}x{meta['resolution']}, "
          f"vocabularies {meta['vocab_sizes']}, {size:.1f} MiB in {time.time() - started:.0f} s"
          + (f"; the judge's {len(meta['judge']['variables'])} variables and {meta.get('heldout_records', 0)} "
             f"held-out records" if judge else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
