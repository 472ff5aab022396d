"""Which checks the judge monitor would keep, replayed on a finished run's recorded checks: try the pick rules with
another tolerance, FID gain or edit set without training again.

    python bench/replay_pick.py bench/results/train_quality_cpu-quick_s41_60min_avx512_seed0.json
    python bench/replay_pick.py RUN.json --set model.judge_control_tolerance=0.01 --set model.judge_fid_min_gain=0.1

Reads a train_quality result's `judge_monitor.history` (every check's figures), builds the run's ModelConfig (its
preset with the overrides the result records, its own warm-up and pick settings where it records them, then
`--set`) and feeds the checks, in order, through models/judge_pick.py `Picks`: the rules the Trainer's monitor and
the JAX trainer's apply during training. Early stop is replayed too: where it would have stopped, the later checks
are never read. Prints each side's recorded pick and the replayed one with their check figures, as Markdown;
`--output` also writes them as JSON.

The replay reads the monitor's check figures (cpu-quick: 256 generated images per check), not the evaluator's: a
new pick is a check whose weights the run did not keep, and what the evaluator reads of them takes the run again
(or, for the checkpoints a run keeps, `bench/train_quality.py --checkpoint`). Where a rule itself changed since a
run was recorded (how a setting is applied, e.g. session 42's tolerance), the replay applies today's rule to the
run's settings. No TensorFlow.
"""
import argparse
import json
import pathlib
import sys
from typing import Dict, List, Optional

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.compare_runs import editor_from_step  # noqa: E402
from models.judge_pick import EDIT_KEYS, PICK_FID_KEYS, SIDE_NAMES, Picks  # noqa: E402
from pipeline.cli import _parse_overrides  # noqa: E402
from pipeline.presets import get_preset  # noqa: E402

# the ModelConfig fields the pick rules read, echoed with each replay
PICK_SETTINGS = ("judge_control_tolerance", "judge_fid_min_gain", "judge_pick_fid", "judge_pick_edit",
                 "early_stop_min_delta", "early_stop_patience", "editor_from_step")
SHOWN = ("articleType_control_accuracy", "baseColour_control_accuracy", "fid", "fid_heldout", "edit_success",
         "edit_success_heldout")


def recorded_pick_settings(result: dict) -> Dict[str, str]:
    """The edit set and FID a run's monitor picked by, as `--set` overrides, read from the keys its result records
    (`judge_monitor.pick_edit` / `pick_fid`). A result without them ran before they were recorded: its editor was
    picked on the training images' edits, every preset's rule until session 51; its FID is left to the preset."""
    monitor = result.get("judge_monitor") or {}
    by_key = {key: name for name, key in EDIT_KEYS.items()}
    settings = {"model.judge_pick_edit": by_key.get(monitor.get("pick_edit"), "train")}
    fid = {key: name for name, key in PICK_FID_KEYS.items()}.get(monitor.get("pick_fid"))
    if fid:
        settings["model.judge_pick_fid"] = fid
    return settings


def replay(result: dict, extra: Optional[Dict[str, object]] = None) -> dict:
    """-> {"config": the pick settings used, "recorded": side -> step, "replayed": side -> step,
    "stopped_at": the step early stop would have ended training at (None: it would not), "checks": step -> figures}.
    """
    history = (result.get("judge_monitor") or {}).get("history")
    if not history:
        raise ValueError("the result has no judge_monitor history: the run was trained without the judge monitor "
                         "(model.judge_every = 0) or is not a train_quality result")
    # the run's own warm-up and pick settings, not today's preset defaults (cpu-quick's warm-up changed in session
    # 47, its editor's edit set in session 51)
    overrides = {**(result.get("overrides") or {}), "model.editor_from_step": editor_from_step(result),
                 **recorded_pick_settings(result), **(extra or {})}
    cfg = get_preset(result["preset"], overrides).model
    attributes = [key[:-len("_control_accuracy")] for key in history[0] if key.endswith("_control_accuracy")]
    picks = Picks(cfg, attributes)
    for key in (picks.fid_key, picks.edit_key):
        if key not in history[0]:
            raise ValueError(f"the run's checks have no {key!r} (recorded under older code or other settings); "
                             f"replay with a pick setting they carry, e.g. --set model.judge_pick_fid=train "
                             f"--set model.judge_pick_edit=train")
    stopped_at = None
    for check in history:
        picks.record(check)
        if picks.should_stop(check["step"]):
            stopped_at = check["step"]
            break
    return {
        "config": {name: getattr(cfg, name) for name in PICK_SETTINGS},
        "recorded": dict(result["judge_monitor"].get("best") or {}),
        "replayed": {side: best["step"] for side, best in picks.best.items()},
        "stopped_at": stopped_at,
        "checks": {check["step"]: {key: check[key] for key in SHOWN if key in check} for check in history},
    }


def markdown(name: str, replayed: dict) -> List[str]:
    checks = replayed["checks"]
    keys = [key for key in SHOWN if any(key in figures for figures in checks.values())]
    lines = [f"### {name}", "", "settings: " + ", ".join(f"{k}={v}" for k, v in replayed["config"].items()), ""]
    if replayed["stopped_at"] is not None:
        lines += [f"early stop would end training at step {replayed['stopped_at']}", ""]
    lines += ["| side | pick | step | " + " | ".join(keys) + " |", "|---" * (len(keys) + 3) + "|"]
    for side in SIDE_NAMES:
        for which in ("recorded", "replayed"):
            step = replayed[which].get(side)
            figures = checks.get(step, {})
            cells = [f"{figures[k]:.3f}" if k in figures else "–" for k in keys]
            lines.append(f"| {side} | {which} | {step if step is not None else '–'} | " + " | ".join(cells) + " |")
    return lines + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="train_quality result JSON files")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a pick setting to try, e.g. model.judge_control_tolerance=0.01")
    parser.add_argument("--output", help="also write the replays as JSON here")
    args = parser.parse_args(argv)
    extra = _parse_overrides(args.set)
    everything, failed = {}, 0
    for path in args.results:
        try:
            replayed = replay(json.loads(pathlib.Path(path).read_text()), extra)
        except (OSError, ValueError, KeyError) as error:  # the other files are still replayed
            print(f"error: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        everything[path] = replayed
        print("\n".join(markdown(pathlib.Path(path).name, replayed)))
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps(everything, indent=2) + "\n")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
