"""Says so when the editor stops editing: its keep-mask saturates at 1 and every edit returns its input.

The editor blends x' = m·x + (1−m)·Δ. If m reaches 1 everywhere the sigmoid's gradient vanishes and the editor
can sit there for hundreds of steps, its edits exact copies of the input (edit success at chance, ~3 %). Measured:
at learning rate 1.6e-3 a cpu-quick editor collapsed for good (session 13), and two 60-minute cpu-quick runs with
seed 1 made identity edits (edit success 3-5 %; m = 1.000 where logged) for their first ~1,000 steps before
recovering (bench/results/train_quality_cpu-quick_s16_60min_fid_pick_seed1.json, …_s20_60min_ecls4_seed1.json;
the latter's repeat, …_s21_45min_ecls4_seed1_repeat.json, collapsed over the same steps).
Nothing else in the log shows it: the losses stay finite, and only the judge's edit success (if a judge monitors
the run) reads it.

`model.mask_cap_weight` prevents it (models/config.py); this watch still says so if it happens.

`EditorIdentityWatch.update(step, mask_mean)` is fed the logged window means (ProgressLogger): the first window at
or above `threshold` gets a warning, the window that falls below it again an info line, and `summary()` the steps
spent collapsed, for the training summary.
"""
import logging
from typing import List, Optional, Tuple

log = logging.getLogger("vitrine.editor_watch")

IDENTITY_MASK = 0.99  # window-mean keep-mask at or above which the editor's edits are (near) copies of the input


class EditorIdentityWatch:
    def __init__(self, threshold: float = IDENTITY_MASK, start_step: int = 0):
        self.threshold = threshold
        self.last_step = start_step
        self.collapsed_since: Optional[int] = None  # first step of the current collapsed stretch
        self.stretches: List[Tuple[int, int]] = []  # (first step, last step) of each finished stretch

    def update(self, step: int, mask_mean: float) -> None:
        """`mask_mean`: the editor's keep-mask averaged over steps (last update's step, step]."""
        window_start = self.last_step + 1
        self.last_step = step
        if mask_mean >= self.threshold:
            if self.collapsed_since is None:
                self.collapsed_since = window_start
                log.warning("The editor's keep-mask averaged %.3f over steps %d-%d: its edits return the input "
                            "unchanged (identity collapse). It may recover by itself; to prevent it, set "
                            "model.mask_cap_weight (10 in cpu-quick and gpu), or lower model.e_lr or "
                            "model.editor_cls_weight.",
                            mask_mean, window_start, step)
        elif self.collapsed_since is not None:
            self.stretches.append((self.collapsed_since, window_start - 1))
            log.info("The editor edits again at step %d (keep-mask %.3f), after %d steps of identity edits",
                     step, mask_mean, window_start - self.collapsed_since)
            self.collapsed_since = None

    def summary(self) -> dict:
        stretches = list(self.stretches)
        if self.collapsed_since is not None:
            stretches.append((self.collapsed_since, self.last_step))
        return {"identity_steps": sum(last - first + 1 for first, last in stretches),
                "identity_stretches": [list(s) for s in stretches],
                "collapsed_at_end": self.collapsed_since is not None}
