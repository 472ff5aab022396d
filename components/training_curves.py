"""The judge's checks during training, drawn as inline SVG charts for the evaluation report.

Two panels over the training step: what training raises (control accuracy per attribute, edit success, the judge
score; a 0-100 % axis) and FID in judge space on the generated images (training records' and held-out records'
labels; a log axis, since the first checks sit an order of magnitude above the plateau). The checks the Trainer
exported are marked with a dashed line per network. With the editor's warm-up (`model.editor_from_step`: G and D
train alone for the first steps) both panels shade the warm-up, and the score panel leaves out its edit-success
checks: they score an editor that has not trained (9-18 % in cpu-quick runs), which read as a collapse when drawn.
The table under the charts keeps every figure; the charts are there to show at a glance where a run plateaued, when
the held-out FID turned, and which check was picked.

Plain SVG text with no plotting library, so the report stays one self-contained page that opens anywhere.
"""
import html
import math
import numbers
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from models.judge_pick import in_editor_warmup

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 28, 58  # margins: y labels, -, title, x labels + legend
COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457")
SCORE_KEYS_FIXED = ("edit_success", "judge_score")
EDIT_PREFIX = "edit_success"  # edit_success, edit_success_heldout, edit_success_all: the editor's scores
FID_KEYS = ("fid", "fid_heldout")
LABELS = {"fid": "FID (training records' labels)", "fid_heldout": "FID (held-out records' labels)",
          "edit_success": "edit success", "judge_score": "judge score"}


def finite(value) -> bool:
    """A real number (Python's or NumPy's), not a bool, None or NaN/inf."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    if key.endswith("_control_accuracy"):
        return f"{key[:-len('_control_accuracy')]} control"
    return key


def score_keys(history: Sequence[dict]) -> List[str]:
    """The rising scores present in the checks: every `*_control_accuracy`, then edit success and the judge score."""
    present = [k for k in history[0] if k.endswith("_control_accuracy")] if history else []
    return present + [k for k in SCORE_KEYS_FIXED if any(k in check for check in history)]


def nice_step(span: float, target: int = 5) -> float:
    """A 1, 2 or 5 × 10^k interval that cuts `span` into about `target` pieces."""
    raw = max(span, 1e-12) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def linear_ticks(low: float, high: float) -> List[float]:
    """Multiples of a 1-2-5 interval within [low, high], about five of them."""
    every = nice_step(high - low)
    first = math.ceil(low / every - 1e-9)
    return [i * every for i in range(first, math.floor(high / every + 1e-9) + 1)]


def log_ticks(low: float, high: float) -> List[float]:
    """1, 2, 5 × 10^k within [low, high] (both > 0)."""
    ticks = []
    for power in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        ticks += [m * 10 ** power for m in (1, 2, 5) if low * (1 - 1e-9) <= m * 10 ** power <= high * (1 + 1e-9)]
    return ticks


def tick_below(value: float) -> float:
    """The largest 1, 2 or 5 × 10^k at or below `value` (> 0)."""
    power = 10 ** math.floor(math.log10(value))
    return max(m * power for m in (1, 2, 5) if m * power <= value * (1 + 1e-9))


def tick_above(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above `value` (> 0)."""
    power = 10 ** math.floor(math.log10(value))
    return min(m * power for m in (1, 2, 5, 10) if m * power >= value * (1 - 1e-9))


class _Axes:
    """Maps (step, value) to pixels. `log` maps log10 of the value; values outside [low, high] are clamped."""

    def __init__(self, x_range: Tuple[float, float], y_range: Tuple[float, float], log: bool):
        self.x0, self.x1 = x_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        self.log = log
        self.y0, self.y1 = (math.log10(y_range[0]), math.log10(y_range[1])) if log else y_range
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1

    def x(self, step: float) -> float:
        return LEFT + (step - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        v = min(max(v, self.y0), self.y1)
        return TOP + (self.y1 - v) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)


def _segments(points: Iterable[Tuple[float, object]], plottable) -> List[List[Tuple[float, float]]]:
    """Runs of plottable values; any other value (missing, non-finite, ≤ 0 on a log axis) breaks the line rather
    than bridging it."""
    runs, run = [], []
    for step, value in points:
        if plottable(value):
            run.append((step, float(value)))
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def in_warmup(step, warmup: int) -> bool:
    """True for a check inside the editor's warm-up (`model.editor_from_step` = `warmup`), by the pick rules'
    `in_editor_warmup` (a warm-started run's check at step 0 is not)."""
    return finite(step) and in_editor_warmup(step, warmup)


def chart_svg(history: Sequence[dict], keys: Sequence[str], title: str, best: Optional[Dict[str, int]] = None,
              log: bool = False, y_range: Optional[Tuple[float, float]] = None, percent: bool = False,
              warmup: int = 0) -> str:
    """One panel: a polyline per key over `history`'s steps, a dashed line per `best` network's step.

    `y_range` fixes the axis (else it spans the data; a log axis widens it to whole 1-2-5 ticks). `warmup` (the
    editor's warm-up, `model.editor_from_step`) shades steps up to it and leaves out the edit-success checks there.
    Returns "" when no key has a value to draw.
    """
    def plottable(value) -> bool:
        return finite(value) and (not log or value > 0)

    def value(check: dict, key: str):
        return None if key.startswith(EDIT_PREFIX) and in_warmup(check["step"], warmup) else check.get(key)

    keys = [k for k in keys if any(plottable(value(check, k)) for check in history)]
    if not keys:
        return ""
    steps = [check["step"] for check in history]
    values = [float(value(check, k)) for check in history for k in keys if plottable(value(check, k))]
    if log:
        low, high = y_range or (tick_below(min(values)), tick_above(max(values)))
    else:
        low, high = y_range or (min(values), max(values))
    axes = _Axes((min(steps), max(steps)), (low, high), log)
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='curves' width='{WIDTH}' height='{HEIGHT}' "
           f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{html.escape(title)}'>",
           f"<text x='{LEFT}' y='16' font-size='13' font-weight='700'>{html.escape(title)}</text>"]
    base = HEIGHT - BOTTOM
    if warmup > axes.x0:  # the editor's warm-up, shaded under everything else
        x_end = axes.x(min(warmup, axes.x1))
        out.append(f"<rect class='warmup' data-step='{warmup}' x='{LEFT}' y='{TOP}' width='{x_end - LEFT:.1f}' "
                   f"height='{base - TOP}' fill='#f3f3f3'><title>the editor's warm-up: G and D train alone until "
                   f"step {warmup}</title></rect>"
                   f"<text x='{LEFT + 3}' y='{base - 4}' font-size='10' fill='#757575'>editor warm-up</text>")
    # the y grid and its labels
    ticks = log_ticks(low, high) if log else linear_ticks(low, high)
    for tick in ticks:
        y = axes.y(tick)
        text = f"{tick:.0%}" if percent else f"{tick:g}"
        out.append(f"<line class='grid' x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e0e0e0'/>"
                   f"<text class='ylabel' x='{LEFT - 6}' y='{y + 4:.1f}' font-size='11' text-anchor='end' "
                   f"fill='#555'>{text}</text>")
    # the x axis: steps
    out.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{base}' y2='{base}' stroke='#888'/>")
    for step in linear_ticks(axes.x0, axes.x1):
        x = axes.x(step)
        out.append(f"<text class='xlabel' x='{x:.1f}' y='{base + 14}' font-size='11' text-anchor='middle' "
                   f"fill='#555'>{step:g}</text>")
    out.append(f"<text x='{WIDTH - RIGHT}' y='{base + 14}' font-size='11' text-anchor='end' fill='#555' "
               f"dy='12'>step</text>")
    # the exported checks
    for side, step in (best or {}).items():
        if not finite(step):
            continue
        x = axes.x(step)
        # the label right of the line, or left of it in the chart's right half (a check near the last step)
        label_x, anchor = (x + 3, "start") if x < (LEFT + WIDTH - RIGHT) / 2 else (x - 3, "end")
        out.append(f"<line class='best' data-side='{html.escape(side)}' data-step='{step}' x1='{x:.1f}' x2='{x:.1f}' "
                   f"y1='{TOP}' y2='{base}' stroke='#424242' stroke-dasharray='4 3'/>"
                   f"<text class='best-label' x='{label_x:.1f}' y='{TOP + 10 + 11 * list(best).index(side)}' "
                   f"font-size='10' text-anchor='{anchor}' fill='#424242'>{html.escape(side)} {step}</text>")
    # one line per metric, and its legend entry
    legend_x = LEFT
    for index, key in enumerate(keys):
        colour, name, label = COLOURS[index % len(COLOURS)], html.escape(key), html.escape(_label(key))
        for run in _segments(((check["step"], value(check, key)) for check in history), plottable):
            if len(run) == 1:
                (s, v), = run
                out.append(f"<circle class='series' data-key='{name}' cx='{axes.x(s):.1f}' cy='{axes.y(v):.1f}' "
                           f"r='2.5' fill='{colour}'><title>{label}</title></circle>")
            else:
                points = " ".join(f"{axes.x(s):.1f},{axes.y(v):.1f}" for s, v in run)
                out.append(f"<polyline class='series' data-key='{name}' points='{points}' fill='none' "
                           f"stroke='{colour}' stroke-width='1.6'><title>{label}</title></polyline>")
        out.append(f"<rect x='{legend_x}' y='{HEIGHT - 16}' width='12' height='3' fill='{colour}'/>"
                   f"<text x='{legend_x + 16}' y='{HEIGHT - 11}' font-size='11'>{label}</text>")
        legend_x += 24 + 6.2 * len(_label(key))
    out.append("</svg>")
    return "".join(out)


def training_curves_html(history: Sequence[dict], best: Optional[Dict[str, int]] = None, warmup: int = 0) -> str:
    """Both panels for the report's Training section, or "" with fewer than two checks (nothing to draw).
    `warmup`: the editor's warm-up (`model.editor_from_step`), shaded in both."""
    if len(history) < 2:
        return ""
    scores = chart_svg(history, score_keys(history), "Judge checks: control and edits (higher is better)", best,
                       y_range=(0.0, 1.0), percent=True, warmup=warmup)
    fids = chart_svg(history, FID_KEYS, "Judge checks: FID in judge space (lower is better; log axis)", best,
                     log=True, warmup=warmup)
    return f"<div class='curves'>{scores}{fids}</div>"
