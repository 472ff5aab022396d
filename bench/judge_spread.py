"""Judge stability, and the release gate's margins: train several judges and score models with each.

    python bench/judge_spread.py --work-dir RUN/pipeline --model RUN/model --steps 600 1500 --seeds 11 22 33
    python bench/judge_spread.py --work-dir RUN/pipeline --model A/model --also b=B/model --steps 3000 \
        --set model.judge_channels=64 --set eval_num_edits=1000
    python bench/judge_spread.py --test-catalog --preset tiny --steps 80 300 --seeds 0 1 2 3 4 5 --reference-generators

The evaluator's figures are the judge's opinion, so a judge that changes with its seed changes the figures. For
each step count and seed this trains a judge on the run's Transform train split (the JudgeTrainer's code), reports
its accuracy on the real eval split, then evaluates `--model` with it exactly as the GanEvaluator does. The spread
over seeds at one step count is how much of a difference between two runs the judge alone can explain. `--work-dir`
is a finished pipeline run's work dir (e.g. the `pipeline` folder that bench/train_quality.py leaves in its
scratch dir) and `--model` an exported model of the same resolution (default: that run's Trainer model); `--also
NAME=MODEL_DIR` scores more models with every judge, and `--set` overrides the preset (the judge's width, the
evaluator's sample and edit counts).
`--catalog DIR` (or `--test-catalog`: the 4-type x 40-photo cut of data/sample the tests' tiny run uses) runs the
preset's whole pipeline first, in the scratch dir.

`--reference-generators` also scores the condition-blind generators of models/reference_generators.py (noise and
constant gray, with the model's editor) with every judge and applies the preset's release bars to all three: the
bars are sound for a judge when they bless the trained model and reject both references; the JSON's `gate` block
gives, per gated metric, the trained model's worst value and the references' best, so a bar can sit between them.
Writes JSON (default bench/results/judge_spread_<preset>.json); each row holds one block per scored model
("trained", and "noise" / "gray" with --reference-generators).
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
from bench.portable import portable_command  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from models.onednn import prefer_onednn  # noqa: E402

prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py), before TensorFlow is imported

FIGURES = ("articleType_real_accuracy", "baseColour_real_accuracy", "articleType_control_accuracy",
           "baseColour_control_accuracy", "edit_success", "edit_success_articleType", "edit_success_baseColour",
           "fid_ratio", "kid_judge", "diversity")


def _prepare(args, preset, scratch) -> str:
    """-> the work dir of a finished pipeline run (run here when --catalog / --test-catalog)."""
    if args.work_dir:
        return args.work_dir
    from data.subset import cut_catalog
    from pipeline.local_runner import run_local

    catalog = args.catalog or cut_catalog(REPO / "data" / "sample", os.path.join(scratch, "catalog"))
    work_dir = os.path.join(scratch, "pipeline")
    started = time.time()
    run_local(catalog, work_dir, preset)
    print(f"[bench] pipeline run ({args.preset}) on {catalog}: {time.time() - started:.0f} s", flush=True)
    return work_dir


def _reference_models(cfg, model_dir, vocab_files, scratch) -> dict:
    """name -> Format-Serving dir: the trained model and the condition-blind references (with its editor)."""
    from models.export import read_vocabulary
    from models.reference_generators import KINDS, condition_blind_generator, export_model, load_trained_network

    sizes = {a: len(read_vocabulary(vocab_files[a])) for a in cfg.condition_attributes}
    model_root = os.path.dirname(model_dir.rstrip("/"))
    editor = load_trained_network(cfg, sizes, model_root, "editor")
    models = {"trained": model_dir}
    for kind, scale in KINDS.items():
        out = export_model(os.path.join(scratch, f"reference_{kind}"), condition_blind_generator(cfg, sizes, scale),
                           editor, cfg, vocab_files)
        models[kind] = os.path.join(out, "Format-Serving")
    return models


def _gate_margins(rows, thresholds, references) -> dict:
    """Over one judge step count's rows: does every judge bless the trained model and reject the references, and
    per gated metric the trained model's worst value against each reference's best."""
    margins = {}
    for metric, bar in thresholds.items():
        worst, best = (max, min) if "max" in bar else (min, max)
        margins[metric] = {"bar": bar, "trained_worst": worst(r["trained"][metric] for r in rows),
                           **{f"{k}_best": best(r[k][metric] for r in rows) for k in references}}
    return {"judges": len(rows),
            "trained_blessed_by_all": all(r["trained"]["blessed"] for r in rows),
            "references_rejected_by_all": all(not r[k]["blessed"] for r in rows for k in references),
            "metrics": margins}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--work-dir", help="a finished pipeline run's work dir (Transform output)")
    source.add_argument("--catalog", help="run the preset's pipeline on this catalog first")
    source.add_argument("--test-catalog", action="store_true", help="... on the tests' tiny-run catalog")
    parser.add_argument("--model", help="an exported model (serving dir) to score (default: the run's Trainer model)")
    parser.add_argument("--also", nargs="+", default=[], metavar="NAME=MODEL_DIR",
                        help="more exported models to score with every judge, each under its own name")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="preset override, e.g. model.judge_channels=64 or eval_num_edits=1000")
    parser.add_argument("--steps", type=int, nargs="+", default=[600, 1500])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 22, 33])
    parser.add_argument("--reference-generators", action="store_true",
                        help="also score noise / constant-gray generators and apply the preset's bars to all")
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
    from pipeline.cli import preset_from_args

    preset = preset_from_args(args)
    cfg = preset.model
    found = find_artifacts(default_paths(_prepare(args, preset, scratch))["pipeline_root"], need_model=not args.model)
    model = args.model or found["model"]
    split = lambda name: sorted(glob.glob(os.path.join(found["examples"], f"Split-{name}", "*.gz")))  # noqa: E731
    vocab_files = vocabulary_files(found["transform_graph"], cfg.condition_attributes)
    models = _reference_models(cfg, model, vocab_files, scratch) if args.reference_generators else {"trained": model}
    references = [n for n in models if n != "trained"]  # the condition-blind generators, if asked for
    for item in args.also:
        name, _, path = item.partition("=")
        if not path or name in models:
            parser.error(f"--also wants NAME=MODEL_DIR with a new name, got {item!r}")
        models[name] = path
    gated = sorted(preset.thresholds)
    rows = []
    for steps in args.steps:
        for seed in args.seeds:
            judge_dir = os.path.join(scratch, f"judge_{steps}_{seed}")
            started = time.time()
            train_judge(cfg.replace(judge_steps=steps, seed=seed), split("train"), split("eval"), vocab_files,
                        judge_dir)
            row = {"judge_steps": steps, "judge_channels": cfg.judge_channels, "seed": seed,
                   "judge_train_seconds": round(time.time() - started, 1)}
            for name, path in models.items():
                result = run_evaluation(path, judge_dir, found["examples"], found["transform_graph"],
                                        f"{judge_dir}_evaluation_{name}", preset.evaluator_config())
                metrics = result["metrics"]
                row[name] = {**{k: round(metrics[k]["value"], 4) for k in sorted(set(FIGURES) | set(gated))},
                             "blessed": result["blessed"], "reasons": result["reasons"]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    by_steps = {steps: [r for r in rows if r["judge_steps"] == steps] for steps in args.steps}
    summary = {str(steps): {n: {k: {"min": min(r[n][k] for r in group), "max": max(r[n][k] for r in group),
                                    "mean": round(statistics.mean(r[n][k] for r in group), 4)} for k in FIGURES}
                            for n in models}
               for steps, group in by_steps.items()}
    report = {
        "benchmark": "judge_spread",
        "command": portable_command("bench/judge_spread.py", argv),
        "preset": args.preset, "cpus": os.cpu_count(), "thresholds": preset.thresholds, "rows": rows,
        "summary_by_judge_steps": summary,
    }
    if references:
        report["gate"] = {str(steps): _gate_margins(group, preset.thresholds, references)
                          for steps, group in by_steps.items()}
        for steps, gate in report["gate"].items():
            print(f"[bench] judge_steps {steps}: trained blessed by all {gate['judges']} judges: "
                  f"{gate['trained_blessed_by_all']}; references rejected by all: "
                  f"{gate['references_rejected_by_all']}; {json.dumps(gate['metrics'])}", flush=True)
    out = pathlib.Path(args.out or REPO / "bench" / "results" / f"judge_spread_{args.preset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
