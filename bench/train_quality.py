"""Training quality: train a preset for a wall-clock budget, then score it with the pipeline's own evaluator.

    python bench/train_quality.py --catalog data/sample --preset cpu-quick --minutes 10
    python bench/train_quality.py --work-dir outputs/demo/work --preset cpu-quick --minutes 10 --set model.cls_weight=2
    python bench/train_quality.py --work-dir RUN --preset cpu-quick --steps 900 --set model.twin_cls_weight=2  # A/B
    python bench/train_quality.py --work-dir RUN --preset cpu-quick --evaluate RUN_SCRATCH/model   # re-score only
    python bench/train_quality.py --work-dir RUN --preset cpu-quick --checkpoint RUN_SCRATCH/train/checkpoints/step-00006000
    python bench/train_quality.py --work-dir RUN --preset cpu-quick --minutes 60 --score-kept \
        --set model.judge_also_pick=judge_pick_edit=train   # also score the last weights and the old editor pick
    python bench/train_quality.py --work-dir RUN --preset cpu-quick --steps 15000 \
        --checkpoint RUN_SCRATCH/train/checkpoints/unpicked/step-00007568   # continue a finished run
    python bench/train_quality.py --work-dir RUN --preset cpu-quick --minutes 10 \
        --base-model RUN_SCRATCH/model   # a scheduled retrain, warm-started from and judged against that model

The data side (ExampleGen -> Transform, and the judge trained on real images) comes from a pipeline run: with
`--work-dir` the latest Transform output and JudgeTrainer model under that run's pipeline root; with `--catalog`
the pipeline is first run on that catalog with a 1-step Trainer to produce them (a work dir must come from a run
of a preset with the same resolution: Transform fixed the image size). Then the G+E+D model is trained
on the Transform train split for `--minutes` (the preset's `max_train_seconds`; the judge monitor scores it
every `judge_every` steps, may stop it early and keeps the best weights) and evaluated exactly as the
GanEvaluator does (held-out eval split, judge-space FID/KID, control accuracy, edit success, preservation vs. a
colour-jitter baseline). Writes JSON (default bench/results/train_quality_<preset>.json) and the HTML report.
`--evaluate` skips training and re-scores a model this script exported before (its training figures come from the
model's own summary), e.g. after the evaluator changed. `--checkpoint` exports one periodic checkpoint of a run
(a `step-NNNNNNNN` folder of its `train/checkpoints`) and scores it: what that run would have exported at that step
without the judge's pick (pass the run's `--set` overrides; the checkpoint is copied, never changed). With
`--steps N` beyond its step it instead continues that run to N steps, as a resume after a kill does: the networks,
each network's step count and (in checkpoints written since session 58) the judge's checks and picks come back;
Adam's moments and the data order restart. A finished run whose pick was put back holds the picks in its last
`step-N` folder and its last weights in `unpicked/step-N` (with its checks and picks, since session 58): continue
from the latter to train on.
`--score-kept` then scores, the same way, each checkpoint the Trainer kept beside its pick (see
models.training.finish_judge_monitor): the last weights, when a pick was put back, and what each alternative pick
(`model.judge_also_pick`) would have exported, where it differs. Each gets its own JSON beside the run's
(`<output>_unpicked.json`, `<output>_picked_by_<setting>-<value>.json`) and its own scratch folder.
"""
import argparse
import glob
import json
import logging
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from models.onednn import cpu_vector_extensions, onednn_enabled, prefer_onednn  # noqa: E402

prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py), before TensorFlow is imported


def _prepare(args, preset) -> str:
    """-> pipeline root holding Transform + JudgeTrainer outputs."""
    from pipeline.local_runner import run_local
    from pipeline.pipeline import default_paths

    if args.work_dir:
        return default_paths(args.work_dir)["pipeline_root"]
    work_dir = os.path.join(args.scratch, "pipeline")
    started = time.time()
    run_local(args.catalog, work_dir, preset.with_model(train_steps=1, max_train_seconds=0.0))
    print(f"[bench] data steps + judge on {args.catalog}: {time.time() - started:.0f} s", flush=True)
    return default_paths(work_dir)["pipeline_root"]


def _checkpoint_step(parser, path: str) -> int:
    """The step of a finished checkpoint folder (`step-NNNNNNNN` with its DONE marker), or a usage error."""
    name = pathlib.Path(path).name
    if not name.startswith("step-") or not name[len("step-"):].isdigit():
        parser.error(f"--checkpoint wants a step-NNNNNNNN folder of a run's train/checkpoints, got {path}")
    if not pathlib.Path(path, "DONE").exists():
        parser.error(f"--checkpoint {path} has no DONE marker: not a finished checkpoint")
    return int(name[len("step-"):])


def kept_checkpoints(monitor: dict) -> dict:
    """{name: folder relative to the run's train/checkpoints} of what the Trainer kept beside its pick: "unpicked"
    (the last weights) and "picked_by_<setting>-<value>" (an alternative pick that differs from the export)."""
    kept = {}
    if (monitor or {}).get("unpicked_checkpoint"):
        kept["unpicked"] = monitor["unpicked_checkpoint"]
    for label, alternative in ((monitor or {}).get("alternatives") or {}).items():
        if alternative.get("checkpoint"):
            # the Trainer's folder name (picked_by/<setting>-<value>/step-N) names the file
            kept["picked_by_" + alternative["checkpoint"].split("/")[1]] = alternative["checkpoint"]
    return kept


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalog", help="run the pipeline's data steps + judge on this catalog first")
    source.add_argument("--work-dir", help="a finished pipeline run's work dir (reuses its Transform + judge)")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--minutes", type=float, default=10.0, help="training wall-clock budget")
    parser.add_argument("--steps", type=int,
                        help="train exactly this many steps instead (no time budget): A/B runs that compare "
                             "the same work on any machine")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="preset override, e.g. model.cls_weight=2")
    parser.add_argument("--scratch", help="where to train and write the report (default: a temp dir)")
    parser.add_argument("--output", help="default: bench/results/train_quality_<preset>.json")
    parser.add_argument("--evaluate", metavar="MODEL_DIR",
                        help="no training: re-score this exported model (with --work-dir: the run that trained it)")
    parser.add_argument("--checkpoint", metavar="CHECKPOINT_DIR",
                        help="no training: export this checkpoint (a run's train/checkpoints/step-NNNNNNNN, with the "
                             "run's --set overrides and --work-dir) and score it")
    parser.add_argument("--base-model", metavar="MODEL_DIR",
                        help="a scheduled retrain: warm-start from this exported model (the Trainer's "
                             "fn_args.base_model) and evaluate against it as the baseline, as the pipeline does with "
                             "its last blessed model")
    parser.add_argument("--score-kept", action="store_true",
                        help="after training, also score the last weights and each alternative pick's checkpoint "
                             "(model.judge_also_pick) that the Trainer kept beside its pick, each into its own JSON")
    args = parser.parse_args(argv)
    continuing = bool(args.checkpoint and args.steps)
    if args.score_kept and (args.evaluate or (args.checkpoint and not continuing)):
        parser.error("--score-kept scores what a training run kept beside its pick: it needs a run, not --evaluate "
                     "or --checkpoint without --steps")
    if (args.evaluate or args.checkpoint) and not args.work_dir:
        parser.error("--evaluate and --checkpoint need --work-dir: the run whose data and judge trained and score "
                     "the model")
    if args.evaluate and args.checkpoint:
        parser.error("--evaluate re-scores an exported model, --checkpoint exports one first: give one of them")
    if args.base_model and (args.evaluate or args.checkpoint):
        parser.error("--base-model warm-starts a new run: not with --evaluate or --checkpoint")
    if args.base_model and not pathlib.Path(args.base_model, "assets.extra", "keras").is_dir():
        parser.error(f"--base-model {args.base_model} is not an exported Vitrine model (no assets.extra/keras)")
    checkpoint_step = _checkpoint_step(parser, args.checkpoint) if args.checkpoint else None
    if continuing and args.steps <= checkpoint_step:
        parser.error(f"--steps {args.steps} with --checkpoint continues the run past the checkpoint's step "
                     f"{checkpoint_step}: give more steps, or leave --steps out to score the checkpoint")
    args.scratch = args.scratch or tempfile.mkdtemp(prefix="vitrine-quality-")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from bench.eval_cost import find_artifacts
    from components.gan_evaluation import vocabulary_files
    from components.gan_evaluator import run_evaluation
    from models.training import train
    from pipeline.cli import _parse_overrides
    from pipeline.presets import get_preset

    overrides = _parse_overrides(args.set)
    preset = get_preset(args.preset, overrides)
    if checkpoint_step is not None:  # resume at the checkpoint's step: export only, or continue to --steps
        preset = preset.with_model(max_train_seconds=0.0, train_steps=args.steps if continuing else checkpoint_step,
                                   min_train_steps=0)
        destination = pathlib.Path(args.scratch, "train", "checkpoints", pathlib.Path(args.checkpoint).name)
        if destination.parent.exists() and any(destination.parent.iterdir()):
            raise SystemExit(f"error: {destination.parent} already holds checkpoints; give an empty --scratch")
        shutil.copytree(args.checkpoint, destination)
    elif args.steps:  # a fixed amount of work: the judge monitor still keeps the best check's weights
        preset = preset.with_model(max_train_seconds=0.0, train_steps=args.steps, min_train_steps=0)
    else:  # --minutes is the budget being measured: no step floor unless --set asks for one
        preset = preset.with_model(max_train_seconds=args.minutes * 60.0,
                                   train_steps=max(preset.model.train_steps, 100000),
                                   min_train_steps=int(overrides.get("model.min_train_steps", 0)))
    pipeline_root = _prepare(args, preset)
    found = find_artifacts(pipeline_root, need_model=False)  # a run whose Trainer failed still serves
    cfg = preset.model
    train_files = sorted(glob.glob(os.path.join(found["examples"], "Split-train", "*.gz")))

    if args.evaluate:
        serving_dir = args.evaluate
        summary = json.loads(pathlib.Path(serving_dir, "assets.extra", "vitrine.json").read_text())
        print(f"[bench] re-scoring {serving_dir} ({summary['steps']} steps); no training", flush=True)
    else:
        serving_dir = os.path.join(args.scratch, "model")
        summary = train(cfg, train_files, vocabulary_files(found["transform_graph"], cfg.condition_attributes),
                        os.path.join(args.scratch, "train"), serving_dir, base_model=args.base_model,
                        judge_model=found["judge"])
        print(f"[bench] trained {summary['steps']} steps in {summary['train_seconds']:.0f} s "
              f"({summary['images_per_second']} img/s)", flush=True)

    started = time.time()
    result = run_evaluation(serving_dir, found["judge"], found["examples"], found["transform_graph"],
                            os.path.join(args.scratch, "evaluation"), preset.evaluator_config(),
                            baseline_dir=args.base_model)
    eval_seconds = time.time() - started
    metrics = {name: {k: v for k, v in entry.items() if k in ("value", "ci", "note", "draws")}
               for name, entry in result["metrics"].items()}
    from bench.portable import portable, portable_command

    command = portable_command("bench/train_quality.py", argv)
    report = {
        "benchmark": "train_quality",
        "command": command,
        "preset": args.preset,
        "overrides": overrides,
        "catalog": portable(args.catalog) or "(work dir)",
        "budget_minutes": (summary["config"]["max_train_seconds"] / 60.0 if args.evaluate
                           else None if (args.steps or args.checkpoint) else args.minutes),
        "fixed_steps": args.steps,
        "evaluated_model": portable(args.evaluate),
        "evaluated_checkpoint": None if continuing else portable(args.checkpoint),
        "continued_from_checkpoint": portable(args.checkpoint) if continuing else None,
        # a scheduled retrain: the networks warm-started from this model, which the evaluator also scored (the same
        # draws) as the baseline a retrain must not fall behind by more than its tolerance
        "warm_started_from": portable(args.base_model),
        "warm_started": summary.get("warm_started") if args.base_model else None,
        # values the base model lacked (they started near its rows) or that this catalog lost
        "warm_start_vocabulary": summary.get("warm_start_vocabulary") if args.base_model else None,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(terse=True),
                    "python": platform.python_version(), "onednn_kernels": onednn_enabled(),
                    "cpu_vector_extensions": cpu_vector_extensions()},
        # editor_from_step: the run's own warm-up (preset or --set), recorded since session 47 so that tables and
        # replays need not guess a preset's default of the day
        "training": {**{k: summary.get(k) for k in ("steps", "train_seconds", "images_per_second",
                                                    "stopped_by_time_budget", "trained_past_time_budget",
                                                    "stopped_by_judge", "d_cls_pretrain")},
                     "editor_from_step": summary["config"].get("editor_from_step", 0)},
        # the judge's score during training (generated + edited images; see models/judge_monitor.py)
        "judge_monitor": {k: v for k, v in (summary["judge_monitor"] or {}).items() if k != "best_checksums"},
        "evaluation_seconds": round(eval_seconds, 1),
        "blessed_by_preset_thresholds": result["blessed"],
        "reasons": result["reasons"],
        "metrics": metrics,
        "baseline_metrics": {name: {k: v for k, v in entry.items() if k in ("value", "ci", "draws")}
                             for name, entry in (result["baseline"] or {}).items()} or None,
        # a base that lacks values of this catalog: both scored on the eval images whose values it knows
        "baseline_scope": result.get("baseline_scope"),
        "compared_metrics": {name: {k: v for k, v in entry.items() if k in ("value", "ci", "draws")}
                             for name, entry in (result.get("compared") or {}).items()} or None,
    }
    out = pathlib.Path(args.output or REPO / "bench" / "results" / f"train_quality_{args.preset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    for name in sorted(metrics):
        print(f"  {name:40s} {metrics[name]['value']:.4f}")
    print(f"wrote {out}; report: {result['report']}")
    if args.score_kept:
        kept = kept_checkpoints(report["judge_monitor"])
        if not kept:
            print("[bench] --score-kept: the run exported its last weights and no alternative differs; nothing else "
                  "to score", flush=True)
        work_dir = args.work_dir or os.path.join(args.scratch, "pipeline")
        for name, folder in kept.items():
            print(f"[bench] scoring the kept checkpoint {name} ({folder})", flush=True)
            main(["--work-dir", work_dir, "--preset", args.preset,
                  *[arg for item in args.set or [] for arg in ("--set", item)],
                  "--checkpoint", os.path.join(args.scratch, "train", "checkpoints", folder),
                  "--scratch", f"{args.scratch.rstrip(os.sep)}_{name}",
                  "--output", str(out.with_name(f"{out.stem}_{name}.json"))])
    return 0


if __name__ == "__main__":
    sys.exit(main())
