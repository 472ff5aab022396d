"""Side by side: train_quality results (A/B arms, seeds) against issue 3's bars, plus how each run's judge checks
moved, as a Markdown table.

    python bench/compare_runs.py bench/results/train_quality_cpu-quick_s16_60min_fid_pick.json \\
        bench/results/train_quality_cpu-quick_s17_60min_cutout.json

The check rows come from the judge monitor's history (256 generated images per check, judge space, against the
fixed training images): the lowest check FID and its step show when the generator stopped improving, the last
check how far it drifted after; with `model.judge_holdout` the same for the held-out records' FID, that FID at
equal steps (every 1,000, the last check at or before each) so arms of different speed compare step for step, and
the editor's check edit success on held-out records beside the training images'. How long the editor trained
(its steps after `model.editor_from_step`, on `model.editor_batch_fraction` of each batch) and, for runs checked
every 100 steps, the checks' category control and edit success at steps 100 / 300 / 500, so 10-minute arms of
different speed compare step for step. Standard library only.
"""
import argparse
import json
import pathlib
import sys
from typing import Dict, List, Optional

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from models.onednn import widest_extension  # noqa: E402  (no TensorFlow: a plain read of the run's record)

EQUAL_STEPS = (1000, 2000, 3000, 4000, 5000, 6000)
EARLY_STEPS = (100, 300, 500)  # where 10-minute arms of different speed compare step for step


def _metric(result: dict, name: str) -> Optional[float]:
    entry = result.get("metrics", {}).get(name)
    return entry.get("value") if isinstance(entry, dict) else None


def _ci(result: dict, name: str) -> str:
    entry = result.get("metrics", {}).get(name) or {}
    value, ci = entry.get("value"), entry.get("ci")
    if value is None:
        return "–"
    return f"{100 * value:.1f} % [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else f"{100 * value:.1f} %"


def editor_from_step(result: dict) -> int:
    """The run's editor warm-up: recorded with its training since session 47; before that every preset had none,
    so only a `--set model.editor_from_step` override gave one."""
    recorded = (result.get("training") or {}).get("editor_from_step")
    if recorded is not None:
        return int(recorded)
    return int((result.get("overrides") or {}).get("model.editor_from_step", 0))


def _at_step(checks: List[dict], step: int) -> str:
    """The held-out FID of the last check at or before `step`; "–" when the run never got that far."""
    if checks[-1]["step"] < step:
        return "–"
    return f"{[h for h in checks if h['step'] <= step][-1]['fid_heldout']:.2f}"


def _early(checks: List[dict], step: int, editor_from_step: int) -> str:
    """Category control / edit success of the check at `step` exactly (10-minute runs check every 100 steps); no
    edit success inside the editor's warm-up, where the check scored the untrained editor."""
    check = next((h for h in checks if h["step"] == step), None)
    if check is None:
        return "–"
    edit = f"{100 * check['edit_success']:.1f}" if step > editor_from_step else "–"
    return f"{100 * check['articleType_control_accuracy']:.1f} / {edit}"


def summarize(result: dict) -> Dict[str, str]:
    """One column of the table: the figures a reader compares, formatted."""
    training = result.get("training", {})
    monitor = result.get("judge_monitor") or {}
    history = [h for h in monitor.get("history", []) if h.get("fid") is not None]
    best = monitor.get("best", {})
    column = {
        "overrides": " ".join(f"{k}={v}" for k, v in (result.get("overrides") or {}).items()) or "(preset)",
        "steps; img/s": f"{training.get('steps', '–')}; {training.get('images_per_second', '–')}",
        "exported G / E check": f"{best.get('generator', '–')} / {best.get('editor', '–')}",
    }
    machine = result.get("machine") or {}
    if "cpu_vector_extensions" in machine:  # recorded since session 41; the same cores ran 1.6 x faster on AVX-512
        column["CPU"] = f"{machine.get('cpus', '?')} cores, {widest_extension(machine['cpu_vector_extensions'])}"
    overrides = result.get("overrides") or {}
    if isinstance(training.get("steps"), int):  # how much the editor trained: its steps, on what share of a batch
        editor_steps = max(training["steps"] - editor_from_step(result), 0)
        column["editor's steps × share of the batch"] = (
            f"{editor_steps} × {float(overrides.get('model.editor_batch_fraction', 1.0)):g}")
    if history:
        lowest = min(history, key=lambda h: h["fid"])
        column["lowest check FID (step)"] = f"{lowest['fid']:.2f} ({lowest['step']})"
        column["last check FID (step)"] = f"{history[-1]['fid']:.2f} ({history[-1]['step']})"
    if history and history[0]["step"] <= EARLY_STEPS[0] and "edit_success" in history[0]:
        column["category / edit checks at " + " / ".join(map(str, EARLY_STEPS)) + " (%)"] = " · ".join(
            _early(history, step, editor_from_step(result)) for step in EARLY_STEPS)
    held = [h for h in history if h.get("fid_heldout") is not None]
    if held:  # the same samples' label combinations drawn for training records held out of training
        lowest = min(held, key=lambda h: h["fid_heldout"])
        column["lowest held-out check FID (step)"] = f"{lowest['fid_heldout']:.2f} ({lowest['step']})"
        column["last held-out check FID (step)"] = f"{held[-1]['fid_heldout']:.2f} ({held[-1]['step']})"
        column["held-out check FID at " + " / ".join(f"{s // 1000}k" for s in EQUAL_STEPS)] = " / ".join(
            _at_step(held, step) for step in EQUAL_STEPS)
    edits = [h for h in history if h.get("edit_success_heldout") is not None]
    if edits:  # the exported editor on training images vs held-out records, at its best and last check
        for label, check in (("best", max(edits, key=lambda h: h["edit_success_heldout"])), ("last", edits[-1])):
            column[f"{label} held-out check edit success, training images (step)"] = (
                f"{100 * check['edit_success_heldout']:.1f} %, {100 * check['edit_success']:.1f} % ({check['step']})")
    if result.get("evaluated_checkpoint"):
        column["exported G / E check"] = f"checkpoint {training.get('steps', '–')} (no pick)"
    for attribute in ("articleType", "baseColour"):
        ratio = _metric(result, f"{attribute}_control_ratio")
        column[f"{attribute} control (× judge)"] = (f"{_ci(result, f'{attribute}_control_accuracy')} = {ratio:.2f} ×"
                                                    if ratio is not None else "–")
    column["edit success"] = _ci(result, "edit_success")
    for name, label, fmt in (("edit_preservation_vs_jitter", "preservation vs jitter", "{:.2f} ×"),
                             ("fid_ratio", "FID / floor", "{:.2f} ×"), ("kid_judge", "KID", "{:.3f}"),
                             ("diversity", "diversity", "{:.2f}")):
        value = _metric(result, name)
        column[label] = fmt.format(value) if value is not None else "–"
    if _metric(result, "background_clean_rate") is not None:  # runs exported since background clean-up
        column["background clean-up: clean / background L1 vs cluttered"] = (
            f"{_ci(result, 'background_clean_rate')} / {_metric(result, 'background_l1_vs_untouched'):.2f} ×")
    return column


def table(paths: List[str]) -> str:
    columns = [summarize(json.loads(pathlib.Path(p).read_text())) for p in paths]
    rows = list(dict.fromkeys(key for column in columns for key in column))
    lines = ["| | " + " | ".join(pathlib.Path(p).stem.replace("train_quality_", "") for p in paths) + " |",
             "|---" * (len(paths) + 1) + "|"]
    lines += [f"| {row} | " + " | ".join(c.get(row, "–") for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="train_quality JSON files")
    args = parser.parse_args(argv)
    print(table(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
