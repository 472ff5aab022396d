"""How much of a difference between two models is the evaluator's own draw?

    python bench/evaluator_draws.py --work-dir RUN/pipeline --preset cpu-quick \
        --model pick=RUN_A/model --model last=RUN_A_unpicked/model --draws 8 --output bench/results/evaluator_draws.json

The evaluator scores a model on one seeded draw (`components/gan_evaluation.py: evaluate_model`, seed 1234): the
conditions it asks for, the z it feeds the generator, the edit targets. This scores each `--model` (an exported
serving model, e.g. a bench/train_quality.py scratch's `model/`) with the first `--draws` evaluator seeds (1234, then
1, 2, ...) against the same judge, real images and FID floor (`--work-dir`: the pipeline work dir whose Transform and
judge trained the models), and reports for each metric:
- per model: the value at each seed, its mean and standard deviation over seeds (the draw-to-draw noise a single
  evaluation carries);
- per pair of models: the paired difference at each seed (both models drawn with the same seed, as the evaluator
  compares a candidate with its baseline), its mean and std, and how many seeds put the first model ahead.
Writes JSON (default bench/results/evaluator_draws.json).
"""
import argparse
import itertools
import json
import os
import pathlib
import platform
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.portable import portable, portable_command  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from models.onednn import prefer_onednn  # noqa: E402

prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py), before TensorFlow is imported

METRICS = ("fid_judge", "fid_ratio", "kid_judge", "fid_infinity_ratio", "feature_spread_ratio",
           "articleType_control_accuracy", "baseColour_control_accuracy", "edit_success",
           "edit_success_articleType", "edit_success_baseColour", "edit_preservation_vs_jitter")


def spread(values) -> dict:
    import numpy as np

    values = np.asarray(values, dtype="float64")
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max())}


def summarise(per_model: dict, metrics=METRICS) -> dict:
    """per_model: {name: [{metric: value} per seed]} -> per-model spreads and per-pair paired differences."""
    models = {name: {m: {"values": [draw[m] for draw in draws], **spread([draw[m] for draw in draws])}
                     for m in metrics if all(m in draw for draw in draws)}
              for name, draws in per_model.items()}
    pairs = {}
    for a, b in itertools.combinations(per_model, 2):
        entry = {}
        for m in models[a]:
            if m not in models[b]:
                continue
            diffs = [x - y for x, y in zip(models[a][m]["values"], models[b][m]["values"])]
            entry[m] = {"differences": diffs, **spread(diffs),
                        "seeds_first_higher": int(sum(d > 0 for d in diffs)), "seeds": len(diffs)}
        pairs[f"{a} - {b}"] = entry
    return {"models": models, "pairs": pairs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", required=True,
                        help="the pipeline work dir whose Transform + judge trained the models (train_quality's)")
    parser.add_argument("--preset", default="cpu-quick", help="the evaluator settings (N samples, N edits)")
    parser.add_argument("--model", action="append", required=True, metavar="NAME=MODEL_DIR",
                        help="an exported serving model to score (repeat for several)")
    parser.add_argument("--draws", type=int, default=8, help="evaluator seeds per model (1234, then 1, 2, ...)")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "evaluator_draws.json"))
    args = parser.parse_args(argv)
    models = dict(item.split("=", 1) for item in args.model)
    if args.draws < 2:
        parser.error("--draws needs at least 2 seeds to measure a spread")

    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from bench.eval_cost import find_artifacts
    from components.gan_evaluation import Judge, evaluate_model, evaluator_seeds, prepare_real, vocabularies
    from models.judge import JUDGE_SUMMARY
    from pipeline.pipeline import default_paths
    from pipeline.presets import get_preset

    config = get_preset(args.preset).evaluator_config()
    attributes, n, edits = config["condition_attributes"], int(config["num_samples"]), int(config["num_edits"])
    found = find_artifacts(default_paths(args.work_dir)["pipeline_root"], need_model=False)
    judge_summary = json.loads(pathlib.Path(found["judge"], JUDGE_SUMMARY).read_text())
    judge = Judge(found["judge"])
    vocab = vocabularies(found["transform_graph"], attributes)
    real = prepare_real(judge, found["examples"], int(config["resolution"]), attributes, judge_summary,
                        floor_sample_size=n)
    seeds = evaluator_seeds(args.draws)
    per_model, seconds = {name: [] for name in models}, []
    for seed in seeds:  # seed-major: an interrupted run still holds complete pairs
        for name, path in models.items():
            started = time.time()
            result = evaluate_model(path, judge, real, vocab, attributes, n, edits, seed=seed)["metrics"]
            seconds.append(time.time() - started)
            per_model[name].append({m: float(result[m]["value"]) for m in METRICS if m in result})
            print(f"[draws] seed {seed:5d} {name:24s} fid_ratio {per_model[name][-1]['fid_ratio']:.3f} "
                  f"edit {per_model[name][-1]['edit_success']:.3f} ({seconds[-1]:.0f} s)", flush=True)
    report = {
        "benchmark": "evaluator_draws",
        "command": portable_command("bench/evaluator_draws.py", argv),
        "preset": args.preset,
        "num_samples": n,
        "num_edits": edits,
        "seeds": seeds,
        "fid_floor": {"value": real["fid_floor"], "std_over_train_draws": real["fid_floor_std"],
                      "sample_size": real["fid_floor_sample_size"]},
        "model_dirs": {name: portable(path) for name, path in models.items()},
        "seconds_per_evaluation": spread(seconds),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(terse=True)},
        **summarise(per_model),
    }
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for name, stats in report["models"].items():
        print(f"{name:24s} fid_ratio {stats['fid_ratio']['mean']:.3f} ± {stats['fid_ratio']['std']:.3f}  "
              f"edit {stats['edit_success']['mean']:.3f} ± {stats['edit_success']['std']:.3f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
