"""Which judge check each side of a run keeps, with no TensorFlow import.

The Trainer's judge monitor (models/judge_monitor.py) and the JAX trainer's (bench/jax_monitor.py) score the model
every `judge_every` steps and share these rules, so that a run on a machine without TensorFlow picks its weights as
the pipeline's Trainer does:
- the generator side's score is its mean control accuracy; checks within `judge_control_tolerance` of the best
  control seen tie, and a tie goes to the lower FID (`judge_pick_fid`: the training images' or the held-out
  records'), by at least `judge_fid_min_gain`, relative. The best seen is the highest score of any check, not
  early stop's running best, which moves only by `early_stop_min_delta` and so can stand up to that much below it
  (before session 42 the tolerance was read from the running best, and a pick that fell out of the tolerance by
  less than that stayed);
- the editor side's score is its edit success (`judge_pick_edit`: on training images, held-out records or both),
  counted only once the editor trains (after `editor_from_step`), or at step 0: a warm-started run's check of the
  base model's weights before its first step (fresh runs never check step 0);
- a side gains on a new pick or a score above its best by `early_stop_min_delta`; `early_stop_patience` checks
  without a gain on either side stop training (not before `early_stop_min_steps`).
- alternative picks (`judge_also_pick`, `alternative_picks`): each entry changes one of the pick settings above and
  follows the same checks beside the run's own pick, so that one run keeps the weights that either rule picks (the
  TF monitor writes each alternative's picks as a checkpoint; early stop follows the run's own settings only).
Both monitors also draw their edit sets here (`edit_set`: one attribute of each source image changed to another
value drawn with the pool's frequencies) and put each check's figures together (`control_accuracies`, `fidelity`,
`edit_success`, `complete_check`, `Picks.log_line`), so a check reads the same in both logs.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from models.config import ModelConfig
from models.edit_targets import draw_edit_targets
from models.metrics import fid, mmd2_unbiased

# judge_pick_fid -> the check's FID that breaks the generator's control ties
PICK_FID_KEYS = {"train": "fid", "heldout": "fid_heldout"}
# judge_pick_edit -> which edits score the editor side ("all": both sets pooled, weighted by their counts)
PICK_EDIT_SETS = ("train", "heldout", "all")
# judge_pick_edit -> the check's edit success that scores the editor side
EDIT_KEYS = {"train": "edit_success", "heldout": "edit_success_heldout", "all": "edit_success_all"}
assert sorted(EDIT_KEYS) == sorted(PICK_EDIT_SETS)
SIDE_NAMES = ("generator", "editor")
# the settings an alternative pick (ModelConfig.judge_also_pick) may change
ALTERNATIVE_SETTINGS = ("judge_control_tolerance", "judge_fid_min_gain", "judge_pick_fid", "judge_pick_edit")


def in_editor_warmup(step: int, editor_from_step: int) -> bool:
    """Whether a check at `step` falls in the editor's warm-up (model.editor_from_step): its editor had not trained.
    A check at step 0 does not: only a warm-started run makes one (JudgeMonitor.check_start), of the base model,
    whose editor had trained. The pick rules and the report's charts both read this."""
    return 0 < step <= editor_from_step


def alternative_picks(cfg: ModelConfig) -> Dict[str, ModelConfig]:
    """`cfg.judge_also_pick` ("judge_pick_edit=all,judge_control_tolerance=0.04": comma-separated, each entry one
    alternative that changes one pick setting) -> {"setting=value": the configuration that alternative picks by}.
    A setting outside ALTERNATIVE_SETTINGS, a value of the wrong type, the run's own value or a repeated entry is
    refused with the entry named."""
    alternatives: Dict[str, ModelConfig] = {}
    for entry in (part.strip() for part in cfg.judge_also_pick.split(",")):
        if not entry:
            continue
        key, sep, text = entry.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or key not in ALTERNATIVE_SETTINGS:
            raise ValueError(f"judge_also_pick entry {entry!r}: expected SETTING=VALUE with SETTING one of "
                             f"{ALTERNATIVE_SETTINGS}")
        current = getattr(cfg, key)
        kind = type(getattr(ModelConfig, key))  # the field's default's type: `--set key=0` may have made it an int
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"judge_also_pick entry {entry!r}: {key} takes a {kind.__name__}") from None
        if value == current:
            raise ValueError(f"judge_also_pick entry {entry!r} is the run's own {key}: it would pick the same checks")
        label = f"{key}={value}"
        if label in alternatives:
            raise ValueError(f"judge_also_pick names {label} twice")
        alternatives[label] = cfg.replace(**{key: value}, judge_also_pick="")
    return alternatives


def side_score(side: str, result: dict, attributes, edit_key: str = "edit_success") -> float:
    """The generator side's score is its mean control accuracy; the editor side's its edit success (`edit_key`)."""
    if side == "generator":
        return float(np.mean([result[f"{a}_control_accuracy"] for a in attributes]))
    return float(result[edit_key])


def edit_set(rng: np.random.Generator, sources: Dict[str, np.ndarray], pool: Dict[str, np.ndarray], count: int,
             attributes: Sequence[str], vocab_sizes: Dict[str, int]) -> dict:
    """The first `count` source images, each with one attribute (a random one) to change to another value, drawn
    with the pool's frequencies: {"sources", "changed": attribute index, "targets": id, "conditions": the editor's
    target weights (zeros = keep)}."""
    count = min(count, len(sources["image"]))
    changed = rng.integers(0, len(attributes), count)
    targets = np.zeros(count, dtype=np.int64)
    conditions = {}
    for index, a in enumerate(attributes):
        rows = np.flatnonzero(changed == index)
        targets[rows] = draw_edit_targets(rng, np.asarray(sources[a])[:count][rows], pool[a], vocab_sizes[a])
        weights = np.zeros((count, vocab_sizes[a]), dtype="float32")
        weights[rows, targets[rows]] = 1.0
        conditions[a] = weights
    return {"sources": sources["image"][:count].astype("float32"), "changed": changed, "targets": targets,
            "conditions": conditions}


def edit_success(judged: Dict[str, np.ndarray], edits: dict, attributes: Sequence[str]) -> float:
    """The share of edits whose changed attribute the judge reads as the target (`judged`: the judge's outputs on
    the edited images)."""
    hits = [np.argmax(judged[f"{attributes[c]}_logits"][i]) == edits["targets"][i]
            for i, c in enumerate(edits["changed"])]
    return float(np.mean(hits))


def control_accuracies(judged: Dict[str, np.ndarray], requested: Dict[str, np.ndarray],
                       attributes: Sequence[str]) -> Dict[str, float]:
    """{"<attr>_control_accuracy": the share of samples the judge reads as the requested value}."""
    return {f"{a}_control_accuracy": float(np.mean(np.argmax(judged[f"{a}_logits"], axis=1) == requested[a]))
            for a in attributes}


def fidelity(generated_features: np.ndarray, real_features: np.ndarray, suffix: str = "") -> Dict[str, float]:
    """{"kid<suffix>", "fid<suffix>"} between the judge's features of generated and of real images."""
    return {f"kid{suffix}": mmd2_unbiased(generated_features, real_features),
            f"fid{suffix}": fid(generated_features, real_features)}


def complete_check(result: dict, attributes: Sequence[str], trained_edits: int, held_edits: int = 0) -> dict:
    """Adds to a check's figures `edit_success_all` (both edit sets pooled by their counts, when the check has
    held-out edits) and `judge_score` (the mean of the control accuracies and the edit success); returns it."""
    if "edit_success_heldout" in result:
        result["edit_success_all"] = ((trained_edits * result["edit_success"]
                                       + held_edits * result["edit_success_heldout"]) / (trained_edits + held_edits))
    parts = [result[f"{a}_control_accuracy"] for a in attributes] + [result["edit_success"]]  # accuracies
    result["judge_score"] = float(np.mean(parts))
    return result


class Picks:
    """Each side's pick and the early-stop count over a run's checks (the rules in the module docstring)."""

    def __init__(self, cfg: ModelConfig, attributes: Sequence[str]):
        self.cfg = cfg
        self.attributes = list(attributes)
        self.fid_key = PICK_FID_KEYS[cfg.judge_pick_fid]
        self.edit_key = EDIT_KEYS[cfg.judge_pick_edit]
        self.best: Dict[str, dict] = {}  # side -> the check at which it scored best
        self.top: Dict[str, float] = {}  # side -> early stop's best: moves only on a gain of early_stop_min_delta
        self.peak: Dict[str, float] = {}  # side -> the highest score of any check, which the tolerance is read from
        self.checks_without_gain = 0

    @property
    def needs_heldout(self) -> bool:
        """Whether the chosen tie-break or edit set reads the held-out records."""
        return self.fid_key == "fid_heldout" or self.cfg.judge_pick_edit != "train"

    def score(self, side: str, result: dict) -> float:
        return side_score(side, result, self.attributes, self.edit_key)

    def judge_side(self, side: str, result: dict) -> Tuple[bool, bool]:
        """-> (this check becomes the side's pick, the side gained: a new pick, or a score above early stop's
        running best by early_stop_min_delta). The editor takes each gain. The generator takes the check that leaves
        its pick more than judge_control_tolerance below the best check's control (`peak`), or a check inside that
        tolerance with an FID lower than the pick's by judge_fid_min_gain (relative)."""
        score = self.score(side, result)
        best = self.best.get(side)
        gained = best is None or score > self.top[side] + self.cfg.early_stop_min_delta
        if gained:
            self.top[side] = score
        self.peak[side] = max(score, self.peak.get(side, score))
        tolerance = self.cfg.judge_control_tolerance
        if best is None or side != "generator" or tolerance <= 0:
            return gained, gained
        peak = self.peak[side]
        if self.score(side, best) < peak - tolerance:  # this check raised the best seen past the pick
            return True, True
        closer = result[self.fid_key] < best[self.fid_key] * (1 - self.cfg.judge_fid_min_gain)
        takes = score >= peak - tolerance and closer
        return takes, gained or takes

    def record(self, result: dict) -> Tuple[List[str], List[str]]:
        """Takes one check (with its "step"); -> (the sides that now pick it, the sides that gained)."""
        taken, improved = [], []
        for side in SIDE_NAMES:
            if side == "editor" and in_editor_warmup(result["step"], self.cfg.editor_from_step):
                continue  # its score is the editor's initial weights', which a pick must not keep
            takes, gained = self.judge_side(side, result)
            if takes:
                self.best[side] = result
                taken.append(side)
            if gained:
                improved.append(side)
        self.checks_without_gain = 0 if improved else self.checks_without_gain + 1
        return taken, improved

    def should_stop(self, step: int) -> bool:
        patience = self.cfg.early_stop_patience
        return bool(patience) and self.checks_without_gain >= patience and step >= self.cfg.early_stop_min_steps

    def describe(self) -> str:
        return ", ".join(f"{side} {self.score(side, best):.3f} at step {best['step']}"
                         for side, best in self.best.items())

    def log_line(self, result: dict, improved: Sequence[str]) -> str:
        """What a recorded check says in the training log: its figures and what the sides gained."""
        figures = ", ".join(f"{k}={v:.3f}" for k, v in result.items() if k not in ("step", "judge_score"))
        gain = (f"gain: {' and '.join(improved)}" if improved else
                f"no gain for {self.checks_without_gain} check(s); best {self.describe()}")
        return f"judge at step {result['step']}: score {result['judge_score']:.3f} ({figures})  {gain}"
