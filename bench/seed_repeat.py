"""Does a seeded training run repeat bit for bit on this machine? Trains the same preset, seed and step count
`--runs` times, each in a fresh process, from a pipeline's Transform output, and writes JSON: which exported
weight tensors differ between the first run and each other one.

    python bench/seed_repeat.py --work-dir RUN/pipeline --preset cpu-quick --steps 3 --output bench/results/x.json
    TF_ENABLE_ONEDNN_OPTS=0 python bench/seed_repeat.py ... --op-determinism   # Eigen's kernels, in every run
    python bench/seed_repeat.py ... --set model.ordered_gradient_sums=false     # as sessions up to 31 trained

The judge monitor is off (no judge checks), so only the training step and its input pipeline are compared.
"""
import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script

from bench.portable import REPO, portable, portable_command  # noqa: E402
from models.onednn import cpu_vector_extensions, prefer_onednn  # noqa: E402


def _train_and_hash(args, out: str) -> None:
    """One run (in its own process): train, then write a SHA-256 of every exported weight tensor to digests.json."""
    import glob
    import hashlib

    import tensorflow as tf

    if args.op_determinism:
        tf.config.experimental.enable_op_determinism()
    import h5py

    from bench.eval_cost import find_artifacts
    from components.gan_evaluation import vocabulary_files
    from models.training import KERAS_WEIGHTS_DIR, train
    from pipeline.cli import _parse_overrides
    from pipeline.pipeline import default_paths
    from pipeline.presets import full_step_preset

    cfg = full_step_preset(args.preset, _parse_overrides(args.set)).model.replace(
        train_steps=args.steps, min_train_steps=0, max_train_seconds=0.0, seed=args.seed, judge_every=0,
        checkpoint_every=10**6, sample_every=10**6)
    found = find_artifacts(default_paths(args.work_dir)["pipeline_root"], need_model=False)
    files = sorted(glob.glob(os.path.join(found["examples"], "Split-train", "*.gz")))
    train(cfg, files, vocabulary_files(found["transform_graph"], cfg.condition_attributes),
          os.path.join(out, "train"), os.path.join(out, "model"))
    digests = {}
    for path in sorted(glob.glob(os.path.join(out, "model", KERAS_WEIGHTS_DIR, "*.weights.h5"))):
        network = os.path.basename(path)[:-len(".weights.h5")]
        with h5py.File(path) as f:
            f.visititems(lambda key, obj: digests.__setitem__(
                f"{network}/{key}", hashlib.sha256(obj[()].tobytes()).hexdigest()) if hasattr(obj, "shape") else None)
    pathlib.Path(out, "digests.json").write_text(json.dumps(digests))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", required=True, help="a pipeline run's work dir (pipeline_root + metadata)")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="override a preset setting in every run, e.g. model.ordered_gradient_sums=false")
    parser.add_argument("--op-determinism", action="store_true",
                        help="call tf.config.experimental.enable_op_determinism() in every run")
    parser.add_argument("--scratch", default=None, help="where the runs write (default: a new temp dir)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)  # one run, in the process started for it
    args = parser.parse_args(argv)
    prefer_onednn()  # here and in every run it starts: the CPU kernels `vitrine` runs (models/onednn.py)
    if args.child:
        _train_and_hash(args, args.child)
        return 0
    if args.runs < 2 or args.steps < 1:
        parser.error("--runs must be >= 2 and --steps >= 1")

    scratch = args.scratch or tempfile.mkdtemp(prefix="seed_repeat_")
    given = sys.argv[1:] if argv is None else list(argv)
    runs = []
    for index in range(args.runs):
        out = os.path.join(scratch, f"run{index}")
        started = time.time()
        print(f"[bench] run {index + 1}/{args.runs}: {args.preset}, {args.steps} steps, seed {args.seed}", flush=True)
        subprocess.run([sys.executable, str(pathlib.Path(__file__).resolve()), *given, "--child", out],
                       cwd=str(REPO), check=True)
        digests = json.loads(pathlib.Path(out, "digests.json").read_text())
        runs.append({"seconds": round(time.time() - started, 1), "digests": digests})

    first = runs[0]["digests"]
    comparisons = []
    for index, run in enumerate(runs[1:], start=1):
        differing = sorted(k for k in first if run["digests"].get(k) != first[k])
        by_network = dict(collections.Counter(key.split("/")[0] for key in differing))
        comparisons.append({"run": index, "tensors_differing": len(differing), "tensors": len(first),
                            "differing_by_network": by_network, "differing": differing})
        print(f"[bench] run {index + 1} vs run 1: {len(differing)} of {len(first)} weight tensors differ "
              f"{by_network or ''}", flush=True)
    result = {
        "benchmark": "seed_repeat",
        "command": portable_command("bench/seed_repeat.py", argv),
        "environment": {name: os.environ[name] for name in ("TF_ENABLE_ONEDNN_OPTS", "PYTHONHASHSEED",
                                                             "OMP_NUM_THREADS") if name in os.environ},
        "preset": args.preset, "overrides": args.set, "steps": args.steps, "seed": args.seed,
        "op_determinism": args.op_determinism,
        "cpu_count": os.cpu_count(), "cpu_vector_extensions": cpu_vector_extensions(),
        "bit_identical": all(c["tensors_differing"] == 0 for c in comparisons),
        "comparisons": comparisons,
        "run_seconds": [r["seconds"] for r in runs],
        "scratch": portable(scratch),
    }
    pathlib.Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}: bit-identical = {result['bit_identical']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
