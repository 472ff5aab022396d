"""Judge stability: train several judges per step count and score one exported model with each.

    python bench/judge_spread.py --work-dir /tmp/run/pipeline --model /tmp/run/model --steps 600 1500 --seeds 11 22 33

The evaluator's figures are the judge's opinion, so a judge that changes with its seed changes the figures. For
each step count and seed this trains a judge on the run's Transform train split (the JudgeTrainer's code), reports
its accuracy on the real eval split, then evaluates `--model` with it exactly as the GanEvaluator does. The spread
over seeds at one step count is how much of a difference between two runs the judge alone can explain. `--work-dir`
is a finished pipeline run's work dir (e.g. the `pipeline` folder that bench/train_quality.py leaves in its
scratch dir) and `--model` an exported model of the same resolution. Writes JSON (default
bench/results/judge_spread_<preset>.json).
"""
import argparse
import glob
import json
import logging
import os
import pathlib
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FIGURES = ("articleType_real_accuracy", "baseColour_real_accuracy", "articleType_control_accuracy",
           "baseColour_control_accuracy", "edit_success", "fid_ratio")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", required=True, help="a finished pipeline run's work dir (Transform output)")
    parser.add_argument("--model", required=True, help="an exported model (serving dir) to score")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--steps", type=int, nargs="+", default=[600, 1500])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 22, 33])
    parser.add_argument("--scratch", help="where the judges go (default: a temp dir)")
    parser.add_argument("--out", help="default: bench/results/judge_spread_<preset>.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    scratch = args.scratch or tempfile.mkdtemp(prefix="vitrine-judges-")

    from bench.eval_cost import find_artifacts
    from components.gan_evaluation import vocabulary_files
    from components.gan_evaluator import run_evaluation
    from models.judge import train_judge
    from pipeline.pipeline import default_paths
    from pipeline.presets import get_preset

    preset = get_preset(args.preset)
    cfg = preset.model
    found = find_artifacts(default_paths(args.work_dir)["pipeline_root"])
    split = lambda name: sorted(glob.glob(os.path.join(found["examples"], f"Split-{name}", "*.gz")))  # noqa: E731
    vocab_files = vocabulary_files(found["transform_graph"], cfg.condition_attributes)
    rows = []
    for steps in args.steps:
        for seed in args.seeds:
            judge_dir = os.path.join(scratch, f"judge_{steps}_{seed}")
            started = time.time()
            train_judge(cfg.replace(judge_steps=steps, seed=seed), split("train"), split("eval"), vocab_files,
                        judge_dir)
            train_seconds = time.time() - started
            result = run_evaluation(args.model, judge_dir, found["examples"], found["transform_graph"],
                                    judge_dir + "_evaluation", preset.evaluator_config())
            row = {"judge_steps": steps, "seed": seed, "judge_train_seconds": round(train_seconds, 1),
                   **{k: round(result["metrics"][k]["value"], 4) for k in FIGURES}}
            print(json.dumps(row), flush=True)
            rows.append(row)
    summary = {}
    for steps in args.steps:
        group = [r for r in rows if r["judge_steps"] == steps]
        summary[str(steps)] = {k: {"min": min(r[k] for r in group), "max": max(r[k] for r in group),
                                   "mean": round(statistics.mean(r[k] for r in group), 4)} for k in FIGURES}
    report = {
        "benchmark": "judge_spread",
        "command": "python bench/judge_spread.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "preset": args.preset, "cpus": os.cpu_count(), "rows": rows, "summary_by_judge_steps": summary,
    }
    out = pathlib.Path(args.out or REPO / "bench" / "results" / f"judge_spread_{args.preset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
