"""Blessing decision and the human-readable evaluation report (HTML + summary.png + metrics.json).

## The `metrics` dict
One entry per metric name; every field but `value` is optional:

    {
        "fid_judge":  {"value": 12.3, "ci": [10.1, 14.2], "higher_is_better": False},
        "baseColour_control_accuracy": {"value": 0.81, "ci": [0.78, 0.84], "higher_is_better": True},
        "fid_floor":  {"value": 3.1, "higher_is_better": False, "note": "real train vs real eval"},
    }

- `value`: float (NaN allowed; it fails any bar it is checked against).
- `ci`: `[low, high]` confidence interval.
- `higher_is_better`: direction used for the baseline comparison; an entry without it is never compared.
- `note`: free text shown in the report.
- `gated`: set to False to exclude the entry from the baseline comparison (absolute thresholds still apply).

`baseline` has the same format (the last blessed model's metrics) or is None.

## The `thresholds` dict
    {"fid_judge": {"max": 40.0}, "baseColour_control_accuracy": {"min": 0.6, "tolerance": 0.05}}

`min`/`max` are absolute bars (inclusive). `tolerance` overrides the global relative regression tolerance for that
metric. A metric named in `thresholds` but missing from `metrics` fails.

## Regression rule
For each metric present in both `metrics` and `baseline` with `higher_is_better` set (and not `gated: False`):
higher-is-better fails if `value < base - tolerance * |base|`; lower-is-better fails if
`value > base + tolerance * |base|`.
"""
import html
import io
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from components.training_curves import finite as _finite
from components.training_curves import in_warmup, training_curves_html

REPORT_FILE, SUMMARY_FILE, METRICS_FILE = "report.html", "summary.png", "metrics.json"


def _fmt(value) -> str:
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4f}"


def check_thresholds(name: str, entry: dict, bar: dict) -> List[str]:
    """Reasons why one metric misses its absolute bar (empty if it passes)."""
    value = entry.get("value") if entry else None
    reasons = []
    if "min" in bar and not (_finite(value) and value >= bar["min"]):
        reasons.append(f"{name} = {_fmt(value)} is below the minimum {_fmt(bar['min'])}")
    if "max" in bar and not (_finite(value) and value <= bar["max"]):
        reasons.append(f"{name} = {_fmt(value)} is above the maximum {_fmt(bar['max'])}")
    return reasons


def regression_bar(base_value: float, higher_is_better: bool, tolerance: float) -> float:
    """The worst value still accepted against a baseline value."""
    slack = tolerance * abs(base_value)
    return base_value - slack if higher_is_better else base_value + slack


def check_regression(name: str, entry: dict, base_entry: dict, tolerance: float) -> List[str]:
    """Reasons why one metric regressed beyond `tolerance` (relative) vs the baseline (empty if it did not)."""
    if "higher_is_better" not in entry or entry.get("gated", True) is False or not base_entry:
        return []
    base_value = base_entry.get("value")
    if not _finite(base_value):
        return []
    higher = bool(entry["higher_is_better"])
    bar = regression_bar(float(base_value), higher, tolerance)
    value = entry.get("value")
    ok = _finite(value) and (value >= bar if higher else value <= bar)
    if ok:
        return []
    direction = "below" if higher else "above"
    return [f"{name} = {_fmt(value)} regressed {direction} the baseline {_fmt(base_value)} "
            f"(allowed {_fmt(bar)} at {tolerance:.0%} tolerance)"]


def evaluate_thresholds(metrics: Dict[str, dict], thresholds: Dict[str, dict], baseline: Optional[Dict[str, dict]],
                        tolerance: float = 0.1, compared: Optional[Dict[str, dict]] = None) -> Tuple[bool, List[str]]:
    """(blessed, reasons): blessed only if every absolute bar holds and nothing regressed vs the baseline.

    `compared`: the candidate's metrics on what the baseline was scored on, when that is not everything `metrics`
    covers (a baseline that lacks values the catalog has since gained); the regression gate reads them."""
    reasons = []
    for name, bar in sorted((thresholds or {}).items()):
        if name not in metrics:
            reasons.append(f"{name} has a threshold but was not computed")
            continue
        reasons.extend(check_thresholds(name, metrics[name], bar))
    if baseline:
        suffix = " (on the values the baseline knows)" if compared else ""
        for name, entry in sorted((compared or metrics).items()):
            metric_tolerance = (thresholds or {}).get(name, {}).get("tolerance", tolerance)
            reasons.extend(r + suffix for r in check_regression(name, entry, baseline.get(name), metric_tolerance))
    return not reasons, reasons


def _metric_rows(metrics, thresholds, baseline, tolerance, compared=None) -> List[dict]:
    """One row per metric. With `compared` (see `evaluate_thresholds`) the baseline column and Δ read the
    candidate's `compared` value (shown as `compared`), not its value on every eval image."""
    rows = []
    for name, entry in sorted(metrics.items()):
        bar = (thresholds or {}).get(name, {})
        base_entry = (baseline or {}).get(name)
        base_value = base_entry.get("value") if base_entry else None
        metric_tolerance = bar.get("tolerance", tolerance)
        against = compared.get(name, entry) if compared is not None else entry
        failures = check_thresholds(name, entry, bar) + check_regression(name, against, base_entry, metric_tolerance)
        checked = bool(bar) or bool(base_entry and "higher_is_better" in entry and entry.get("gated", True))
        value, against_value = entry.get("value"), against.get("value")
        delta = float(against_value) - float(base_value) if _finite(against_value) and _finite(base_value) else None
        bar_text = " ".join(f"{k} {_fmt(bar[k])}" for k in ("min", "max") if k in bar) or "—"
        rows.append({
            "name": name, "value": value, "ci": entry.get("ci"), "bar": bar_text, "baseline": base_value,
            "compared": against_value if compared is not None else None,
            "delta": delta, "higher_is_better": entry.get("higher_is_better"), "note": entry.get("note", ""),
            "status": ("FAIL" if failures else "pass") if checked else "info",
        })
    return rows


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(_as_uint8(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _as_uint8(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"grid images must be uint8 [H, W, 3]; got {image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()[:60] or "grid"


def _confusion_html(attribute: str, matrix, labels: Sequence[str]) -> str:
    matrix = np.asarray(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, np.maximum(totals, 1))
    head = "".join(f'<th class="rot"><div>{html.escape(str(l))}</div></th>' for l in labels)
    body = []
    for i, label in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            alpha = float(share[i, j])
            color = "40,120,60" if i == j else "190,50,40"
            title = f"requested {labels[i]} → judged {labels[j]}: {matrix[i, j]} ({alpha:.0%} of row)"
            cells.append(f'<td style="background: rgba({color},{alpha:.3f})" title="{html.escape(title)}">'
                         f'{int(matrix[i, j]) or ""}</td>')
        body.append(f"<tr><th>{html.escape(str(label))}</th>{''.join(cells)}<td class='n'>{int(totals[i, 0])}</td></tr>")
    diagonal = np.trace(matrix) / max(matrix.sum(), 1)
    return (f"<h3>{html.escape(attribute)} <small>(rows: requested, columns: judged; accuracy {diagonal:.3f})</small></h3>"
            f"<div class='scroll'><table class='confusion'><tr><th></th>{head}<th>n</th></tr>{''.join(body)}</table></div>")


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
.verdict{padding:16px 20px;border-radius:6px;color:#fff;font-size:28px;font-weight:700}
.verdict.ok{background:#2e7d32}.verdict.bad{background:#c62828}
.verdict ul{font-size:15px;font-weight:400;margin:8px 0 0 0}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:right}
th{background:#f4f4f4}td.name,th.name{text-align:left}
tr.FAIL td{background:#fde7e7}tr.FAIL td.status{color:#c62828;font-weight:700}
tr.pass td.status{color:#2e7d32;font-weight:700}td.status{text-align:center}td.note{text-align:left;color:#666}
table.confusion td{min-width:22px;text-align:center}table.confusion td.n{color:#666}
th.rot{height:110px;white-space:nowrap;vertical-align:bottom}th.rot div{transform:rotate(-60deg);width:22px}
.scroll{overflow-x:auto}div.curves svg{margin:4px 16px 4px 0;border:1px solid #eee}p.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:6px 10px}img.grid{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}
"""


def _training_html(training: Optional[dict]) -> str:
    """The candidate's training summary (assets.extra/vitrine.json): how it stopped and the judge's checks."""
    if not training:
        return "<p>No training summary in the model.</p>"
    if training.get("stopped_by_judge"):
        stop = "early stop on the judge score"
    elif training.get("stopped_by_time_budget"):
        stop = "time budget"
    else:
        stop = "planned steps"
    parts = [f"<p>{training.get('steps', '?')} steps of {training.get('planned_steps', '?')} "
             f"in {_fmt(training.get('train_seconds'))} s ({_fmt(training.get('images_per_second'))} images/s); "
             f"stopped by: {stop}."]
    if training.get("warm_started"):
        carried = training.get("warm_start_network_steps")
        counts = ("carrying its step counts (" + ", ".join(f"{name} {count}" for name, count in carried.items())
                  + ", model.warm_start_counts)") if carried else "counting its steps afresh"
        parts.append(f" Warm-started from {html.escape(str(training.get('warm_start_from')))} "
                     f"({', '.join(training['warm_started'])}), {counts}.")
    warmup = int((training.get("config") or {}).get("editor_from_step") or 0)
    if warmup:
        parts.append(f" The editor's warm-up: G and D trained alone until step {warmup} (model.editor_from_step), "
                     f"so the editor trained {training.get('editor_trained_steps', '?')} steps; the edit success of "
                     f"checks inside the warm-up scores an untrained editor.")
    monitor = training.get("judge_monitor") or {}
    history = monitor.get("history") or []
    if not history:
        return ("".join(parts) + " No judge checks (no judge given, or judge_every = 0).</p>"
                + _editor_watch_html(training))
    best = monitor.get("best") or {}
    if "step" in best:  # a model trained before the generator and the editor kept separate bests
        best = {"generator": best["step"], "editor": best["step"]}
    restored = monitor.get("restored") or ({side: step for side, step in best.items()}
                                           if monitor.get("restored_best") else {})
    sides = [(f"the base model's {side} (the check at step 0, before the first step: no later check beat it)"
              if step == 0 else f"the {side}'s weights of step {step} (its best judge check)") if side in restored
             else f"the {side}'s last weights" for side, step in best.items()]
    exported = (" and ".join(sides) + " were exported") if sides else "the last step's weights were exported"
    heldout = monitor.get("heldout_per_check") or 0
    held = (f", plus {heldout} generated for the label combinations of {heldout} training records held out of "
            f"training (fid_heldout, kid_heldout)" if heldout else "")
    held_edits = ", plus one edit of each held-out record (edit_success_heldout)" \
        if any("edit_success_heldout" in check for check in history) else ""
    edit_sets = {"edit_success_heldout": "the held-out records' edits",
                 "edit_success_all": "both edit sets pooled (edit_success_all)"}
    edit_pick = (f" The editor's best check is the one with the highest edit success on "
                 f"{edit_sets[monitor['pick_edit']]}." if monitor.get("pick_edit") in edit_sets else "")
    tie = (" Checks within the control tolerance go to the lower "
           f"{'held-out' if monitor.get('pick_fid') == 'fid_heldout' else 'training-image'} FID." if "pick_fid" in
           monitor else "")
    parts.append(f" Judge checks every {history[1]['step'] - history[0]['step'] if len(history) > 1 else '?'} "
                 f"steps on {monitor.get('samples_per_check', '?')} generated images{held} and "
                 f"{monitor.get('edits_per_check', '?')} edits{held_edits}; {exported}.{tie}{edit_pick}"
                 f"{_kept_html(monitor)}</p>")
    parts.append(training_curves_html(history, best, warmup))
    columns = [k for k in history[0] if k not in ("step", "judge_score")] + ["judge_score"]
    header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for check in history:
        cells = "".join(f"<td>{_fmt(check.get(c))}</td>" for c in columns)
        marks = [side for side, step in best.items() if step == check["step"]]
        mark = " class='pass'" if marks else ""
        label = f" (best {' + '.join(marks)})" if marks else ""
        if in_warmup(check["step"], warmup):
            label += " (editor warm-up)"
        elif check["step"] == 0:
            label += " (the base model, before the first step)"
        rows.append(f"<tr{mark}><td class='name'>{check['step']}{label}</td>{cells}</tr>")
    parts.append(f"<table><tr><th class='name'>step</th>{header}</tr>{''.join(rows)}</table>")
    return "".join(parts) + _editor_watch_html(training)


def _kept_html(monitor: dict) -> str:
    """What the Trainer kept beside its picks (models/training.py: finish_judge_monitor): the last weights, and what
    each alternative pick rule (model.judge_also_pick) would have exported."""
    parts = []
    if monitor.get("unpicked_checkpoint"):
        parts.append(f" The last weights were kept in checkpoints/{html.escape(monitor['unpicked_checkpoint'])}.")
    for label, alternative in (monitor.get("alternatives") or {}).items():
        if alternative.get("differs"):
            picked = " and ".join(f"the {side}'s weights of step {alternative['best'][side]}"
                                  for side in alternative["differs"])
            parts.append(f" Picking by {html.escape(label)} would have exported {picked} (kept in "
                         f"checkpoints/{html.escape(alternative.get('checkpoint') or '?')}).")
        else:
            parts.append(f" Picking by {html.escape(label)} would have exported the same weights.")
    return "".join(parts)


def _editor_watch_html(training: dict) -> str:
    """A warning paragraph when the editor's keep-mask saturated during training (models/editor_watch.py)."""
    watch = training.get("editor_watch") or {}
    if not watch.get("identity_steps"):
        return ""
    stretches = ", ".join(f"{first}-{last}" for first, last in watch.get("identity_stretches", []))
    end = "; it was still collapsed at the end, so the exported editor may copy its input" \
        if watch.get("collapsed_at_end") else ""
    return (f"<p class='warn'>The editor's edits were copies of their input (keep-mask &ge; 0.99, identity "
            f"collapse) for {watch['identity_steps']} steps (steps {stretches}){end}.</p>")


def _write_summary(path: str, blessed: bool, reasons: List[str], rows: List[dict], grid: Optional[np.ndarray]):
    from PIL import Image, ImageDraw, ImageFont

    def font(size):
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # Pillow without FreeType: fixed-size bitmap font
            return ImageFont.load_default()

    big, small = font(34), font(16)
    width = 900
    text_lines = []
    for reason in reasons[:6]:
        # ASCII only: Pillow's bundled font has no bullet or ellipsis glyphs.
        text_lines.append("- " + (reason if len(reason) <= 100 else reason[:97] + "..."))
    if len(reasons) > 6:
        text_lines.append(f"... and {len(reasons) - 6} more (see report.html)")
    gated = [r for r in rows if r["status"] != "info"] or rows
    metric_lines = []
    for row in gated[:14]:
        base = f"base {_fmt(row['baseline'])}" if row["baseline"] is not None else ""
        metric_lines.append(((row["status"], row["name"][:44], _fmt(row["value"]), base, row["bar"]), row["status"]))
    grid_image = None
    if grid is not None:
        grid_image = Image.fromarray(_as_uint8(grid)).convert("RGB")
        scale = min(1.0, (width - 40) / grid_image.width) if grid_image.width > width - 40 else \
            max(1, (width - 40) // grid_image.width)
        # A grid with many condition rows would make the summary very tall; keep it at most 700 px high.
        scale = min(scale, 700 / grid_image.height) if grid_image.height * scale > 700 else scale
        grid_image = grid_image.resize((max(1, int(grid_image.width * scale)), max(1, int(grid_image.height * scale))),
                                       Image.NEAREST if scale >= 1 else Image.LANCZOS)
    line_height = 22
    height = 20 + 50 + line_height * (len(text_lines) + len(metric_lines) + 2) + (grid_image.height + 20 if grid_image else 0)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([0, 0, width, 64], fill=(46, 125, 50) if blessed else (198, 40, 40))
    draw.text((20, 14), "BLESSED" if blessed else "NOT BLESSED", fill="white", font=big)
    y = 76
    for line in text_lines:
        draw.text((20, y), line, fill=(150, 20, 20), font=small)
        y += line_height
    y += 6
    # Proportional font: place each column at a fixed x instead of padding with spaces.
    columns = (20, 80, 470, 580, 730)
    for cells, status in metric_lines:
        color = {"FAIL": (198, 40, 40), "pass": (30, 100, 40)}.get(status, (60, 60, 60))
        for x, cell in zip(columns, cells):
            if cell and cell != "—":
                draw.text((x, y), cell, fill=color, font=small)
        y += line_height
    if grid_image is not None:
        y += 10
        canvas.paste(grid_image, (20, y))
    canvas.save(path)


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _scope_html(scope: Optional[dict]) -> str:
    if not scope:
        return ""
    lacks = "; ".join(f"{html.escape(a)}: {html.escape(', '.join(v))}"
                      for a, v in scope["values_the_baseline_lacks"].items())
    return (f"<p class='scope'>The baseline was trained before these values joined the catalog: {lacks}. It cannot "
            f"draw them, so the regression gate compares both models on the {scope['eval_images']} of "
            f"{scope['eval_images_all']} eval images whose values it knows (column “on the baseline's values”, "
            f"FID floor {scope['fid_floor']:.3f} there); the thresholds read the candidate on every eval image.</p>")


def write_report(out_dir: str, metrics: Dict[str, dict], thresholds: Dict[str, dict],
                 baseline: Optional[Dict[str, dict]], blessed: bool, reasons: List[str],
                 grids: Optional[Dict[str, np.ndarray]] = None,
                 confusion: Optional[Dict[str, Tuple[np.ndarray, Sequence[str]]]] = None,
                 tolerance: float = 0.1, training: Optional[dict] = None,
                 compared: Optional[Dict[str, dict]] = None, scope: Optional[dict] = None) -> str:
    """Writes `report.html` (+ one PNG per grid beside it), `summary.png` and `metrics.json` into `out_dir`.

    `grids`: title -> uint8 `[H, W, 3]` image. `confusion`: attribute -> (`[V, V]` counts, labels).
    `training`: the candidate's training summary (steps, stop reason, the judge's checks during training).
    `tolerance` only colours the pass/fail column; the decision itself is `blessed`/`reasons`.
    `compared` and `scope`: a baseline that lacks values the catalog has gained was compared with the candidate on
    the eval images it knows (components.gan_evaluator); the table shows the candidate's value there too.
    Returns the path of report.html.
    """
    os.makedirs(out_dir, exist_ok=True)
    grids, confusion = grids or {}, confusion or {}
    rows = _metric_rows(metrics, thresholds, baseline, tolerance, compared)

    grid_html = []
    for index, (title, image) in enumerate(grids.items()):
        if image is None:
            continue
        file_name = f"grid_{index}_{_slug(title)}.png"
        with open(os.path.join(out_dir, file_name), "wb") as f:
            f.write(_png_bytes(image))
        grid_html.append(f"<h3>{html.escape(title)}</h3><img class='grid' src='{file_name}' alt='{html.escape(title)}'>")

    verdict = "BLESSED" if blessed else "NOT BLESSED"
    reason_html = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    table = []
    for row in rows:
        ci = f"{_fmt(row['ci'][0])} – {_fmt(row['ci'][1])}" if row["ci"] else "—"
        arrow = {True: "↑", False: "↓"}.get(row["higher_is_better"], "")
        delta = "—" if row["delta"] is None else f"{row['delta']:+.4f}"
        table.append(
            f"<tr class='{row['status']}'><td class='name'>{html.escape(row['name'])} {arrow}</td>"
            f"<td>{_fmt(row['value'])}</td><td>{ci}</td><td>{html.escape(row['bar'])}</td>"
            + (f"<td>{_fmt(row['compared'])}</td>" if compared is not None else "")
            + f"<td>{_fmt(row['baseline'])}</td><td>{delta}</td>"
            f"<td class='status'>{row['status']}</td><td class='note'>{html.escape(str(row['note']))}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Vitrine evaluation: {verdict}</title><style>{_CSS}</style></head>
<body>
<div class="verdict {'ok' if blessed else 'bad'}">{verdict}{f'<ul>{reason_html}</ul>' if reason_html else ''}</div>
<h2>Metrics</h2>
<p>↑ higher is better, ↓ lower is better. Baseline: {'last blessed model' if baseline else 'none (first model)'};
regression tolerance {tolerance:.0%} relative.</p>
{_scope_html(scope)}
<table><tr><th class="name">metric</th><th>value</th><th>95% CI</th><th>threshold</th>
{'<th>on the baseline&#39;s values</th>' if compared is not None else ''}<th>baseline</th><th>Δ</th>
<th>status</th><th class="name">note</th></tr>
{''.join(table)}
</table>
<h2>Samples</h2>
{''.join(grid_html) or '<p>No sample grids.</p>'}
<h2>Control confusion matrices</h2>
{''.join(_confusion_html(a, m, l) for a, (m, l) in confusion.items()) or '<p>None.</p>'}
<h2>Training</h2>
{_training_html(training)}
</body></html>
"""
    report_path = os.path.join(out_dir, REPORT_FILE)
    with open(report_path, "w", encoding="utf-8") as f:
        f.write(page)

    first_grid = next((g for g in grids.values() if g is not None), None)
    _write_summary(os.path.join(out_dir, SUMMARY_FILE), blessed, reasons, rows, first_grid)
    with open(os.path.join(out_dir, METRICS_FILE), "w", encoding="utf-8") as f:
        json.dump(_json_safe({"blessed": blessed, "reasons": reasons, "metrics": metrics, "baseline": baseline,
                              "compared": compared, "baseline_scope": scope,
                              "thresholds": thresholds, "tolerance": tolerance}), f, indent=2, sort_keys=True)
    return report_path
