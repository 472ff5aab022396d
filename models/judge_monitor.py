"""Early stop on the judge: score the model while it trains, keep the best weights, stop when it stops improving.

Every `judge_every` steps the pipeline's judge (the attribute classifier JudgeTrainer trained on real images)
scores what would be exported:
- control accuracy per attribute: the EMA generator draws `judge_samples` images for the label combinations of
  fixed training examples and the judge must recognise the requested value;
- edit success: the exported editor (the editor's moving average with cfg.editor_ema) changes one attribute of
  `judge_samples // 2` fixed training images to another value, drawn with the examples' frequencies, and the
  judge must see the target (the eval split stays untouched for the evaluator). With cfg.editor_ema the raw
  editor is scored too (`edit_success_raw`), which shows what the average buys.
- fidelity: KID and FID in the judge's feature space between the generated images and the fixed training images
  whose label combinations they were asked for (the evaluator measures the same against the eval split).
- held-out fidelity (with cfg.judge_holdout > 0): KID and FID between samples for the label combinations of
  training records held out of training and those records' images (`kid_heldout`, `fid_heldout`). The fixed
  training images above are ones G trains on, so their FID can keep falling while G fits them at unseen images'
  expense; cfg.judge_pick_fid = "heldout" lets the held-out FID break the generator's ties instead.
- held-out edit success (with cfg.judge_holdout > 0): the exported editor changes one attribute of every held-out
  record (`edit_success_heldout`), and `edit_success_all` pools both edit sets; cfg.judge_pick_edit chooses which
  of the three scores the editor side.
The judge score is the mean of the accuracies. Every figure goes to the log and to TensorBoard (`judge/...`).

The generator and the editor are exported as separate networks, and their scores peak at different steps (a
60-minute cpu-quick run: generator control best at step 4,500, edit success still rising at 7,300), so each keeps
its own best: the editor side (E, EMA E) by edit success, counted only once E trains (in the editor's warm-up,
cfg.editor_from_step, untrained editors scored 11-18 % and their first trained checks 8-12 %), the generator side
(G, EMA G and D) by its mean control accuracy with fidelity breaking ties. Control accuracy on 256 samples moves by
about two points between checks by chance alone, and choosing by it alone picked a step-2,400 generator in a
7,200-step run, whose KID and FID were worse than later ones'. So checks within `judge_control_tolerance` of the
best control seen tie, and a tie goes to the lower FID (by at least `judge_fid_min_gain`, relative); a check that
raises the best control beyond the tolerance replaces a pick it leaves behind. FID, not KID: it is what the
evaluator's bar measures, every check measures it at the same N (so its finite-sample bias is shared), and in a
60-minute cpu-quick run the checks' KID stayed within 0.038-0.045 from step 900 to 2,500 while their FID fell from
6.7 to 5.5 (bench/results/judge_checks_s16_kid_pick_partial.json). With `early_stop_patience` > 0 training stops
after that many checks in which neither side gained (a pick, or control up by `early_stop_min_delta`); with
`restore_best` each side's best weights are put back before export, whether training ended early, by the time budget
or at its last step.

Alternative picks (cfg.judge_also_pick, see models.judge_pick.alternative_picks) follow the same checks with one
pick setting changed and keep the weights they pick too. After training, `finish`'s `before_restore` hook (called
before any side is put back, while the networks hold the last weights) and `alternative_in_place` let the Trainer
write the last weights and each alternative's picks as checkpoints (models/training.py: finish_judge_monitor), so
that one run scores its own pick, the last weights and each alternative's pick.
"""
import contextlib
import io
import json
import logging
import os
from typing import Callable, Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf

from models.config import ModelConfig
from models.judge import Judge
from models.judge_pick import (SIDE_NAMES, Picks, alternative_picks, complete_check, control_accuracies, edit_set,
                                edit_success, fidelity)
from models.training import NETWORKS, id_feature, make_dataset, values_checksum

log = logging.getLogger("vitrine.judge_monitor")

# in a checkpoint folder: the checks so far, and the weights at each pick (JudgeMonitor.save_state)
MONITOR_STATE_FILE = "judge_monitor.json"
MONITOR_WEIGHTS_FILE = "judge_monitor_picks.npz"

# What each side's score is, and which networks its best weights cover (every network in NETWORKS, once).
SIDES = {"generator": ("generator", "ema_generator", "discriminator"), "editor": ("editor", "ema_editor")}
assert sorted(n for names in SIDES.values() for n in names) == sorted(NETWORKS)
assert tuple(SIDES) == SIDE_NAMES


def fixed_examples(train_patterns, cfg: ModelConfig, count: int, records: str = "all") -> Dict[str, np.ndarray]:
    """`count` training examples, unaugmented, drawn by a seeded shuffle over 4x as many (a catalog sorted by
    category must not give the monitor one category): {"image": [N,R,R,3], "<attr>": ids [N]}. `records` as in
    `make_dataset` ("heldout": the records training never sees; fewer than `count` if fewer are held out)."""
    pool = make_dataset(train_patterns, cfg, 64, training=False, records=records).unbatch()
    pool = pool.shuffle(4 * count, seed=cfg.seed, reshuffle_each_iteration=False).batch(64)
    attributes = cfg.condition_attributes
    images, ids = [], {a: [] for a in attributes}
    taken = 0
    for batch in pool:
        images.append(batch["image"].numpy())
        for a in attributes:
            ids[a].append(batch[id_feature(a)].numpy())
        taken += len(images[-1])
        if taken >= count:
            break
    if not images:
        what = "held-out (judge_holdout is too small for this catalog)" if records == "heldout" else "training"
        raise ValueError(f"The judge monitor found no {what} examples in {train_patterns}")
    return {"image": np.concatenate(images)[:count], **{a: np.concatenate(v)[:count] for a, v in ids.items()}}


class JudgeMonitor(keras.callbacks.Callback):
    def __init__(self, judge_path: str, cfg: ModelConfig, vocab_sizes: Dict[str, int], examples: Dict[str, np.ndarray],
                 writer, start_step: int = 0, heldout: Optional[Dict[str, np.ndarray]] = None,
                 check_start: bool = False):
        super().__init__()
        # A warm-started run (a scheduled retrain) checks its starting weights, the base model's, before its first
        # step: the check reads the base on this run's check sets, and each side's pick can keep it where no later
        # check beats it, so a retrain exports no worse than it started by the judge's checks.
        self.check_start = check_start and start_step == 0
        self.judge = Judge(judge_path)
        self.cfg, self.vocab_sizes, self.writer = cfg, vocab_sizes, writer
        self.attributes = list(cfg.condition_attributes)
        self.step = start_step
        rng = np.random.default_rng(cfg.seed + 7)
        n = cfg.judge_samples
        # Fixed latents, conditions and edit targets: successive checks differ only by the weights.
        # Requested conditions are the label combinations of fixed training examples (the joint distribution G
        # trains on and the evaluator samples, not independent uniform values such as "Pink Watches").
        count = len(examples["image"])
        pick = rng.permutation(np.resize(np.arange(count), n))
        self.z = rng.standard_normal((n, cfg.z_dim)).astype("float32")
        self.requested = {a: np.asarray(examples[a])[pick] for a in vocab_sizes}
        self.edits = edit_set(rng, examples, examples, max(n // 2, 1), self.attributes, vocab_sizes)
        # the judge's features of the real images whose label combinations the generator is asked for
        self.real_features = self.judge(examples["image"].astype("float32"))["features"]
        # Held-out records (never trained on): one sample per record, for its label combination, with latents of
        # their own so the training-side draws above stay what they were without a holdout.
        self.heldout = None
        if heldout is not None:
            held_rng = np.random.default_rng(cfg.seed + 11)
            self.heldout = {
                "requested": {a: np.asarray(heldout[a]) for a in vocab_sizes},
                "z": held_rng.standard_normal((len(heldout["image"]), cfg.z_dim)).astype("float32"),
                "features": self.judge(heldout["image"].astype("float32"))["features"],
            }
            # every held-out record is also an edit source, its target drawn with the training examples'
            # frequencies as above (another generator, so the draws above do not move)
            self.heldout_edits = edit_set(np.random.default_rng(cfg.seed + 13), heldout, examples,
                                          len(heldout["image"]), self.attributes, vocab_sizes)
        self.picks = Picks(cfg, self.attributes)
        if self.heldout is None and self.picks.needs_heldout:
            raise ValueError(f"judge_pick_fid={cfg.judge_pick_fid!r} / judge_pick_edit={cfg.judge_pick_edit!r} "
                             "but the monitor was given no held-out examples")
        # label -> the alternative's picks and the weights at them (network -> weights), beside the run's own
        self.alternatives = {label: Picks(alt, self.attributes) for label, alt in alternative_picks(cfg).items()}
        self.alternative_weights: Dict[str, Dict[str, List[np.ndarray]]] = {label: {} for label in self.alternatives}
        missing = [label for label, picks in self.alternatives.items() if picks.needs_heldout]
        if self.heldout is None and missing:
            raise ValueError(f"judge_also_pick {', '.join(missing)} but the monitor was given no held-out examples")
        self.history: List[dict] = []
        self.best_weights: Dict[str, List[np.ndarray]] = {}  # network -> weights at its side's best check
        self.stopped_early = False
        self.restored: Dict[str, int] = {}  # side -> step whose weights were put back

    # -- resume ---------------------------------------------------------------------------------------
    def save_state(self, directory: str) -> None:
        """Writes the checks so far and the weights at each pick (the run's own and each alternative's) into a
        checkpoint folder, so that a run resumed from it keeps its picks (models/training.py: Checkpoints)."""
        with tf.io.gfile.GFile(os.path.join(directory, MONITOR_STATE_FILE), "w") as f:
            json.dump({"history": self.history}, f, default=float)
        arrays = {}
        for owner, weights in self._pick_weights().items():
            for name, values in weights.items():
                arrays.update({f"{owner}/{name}/{index:05d}": value for index, value in enumerate(values)})
        buffer = io.BytesIO()  # zipfile seeks back while writing, which a GFile (e.g. on GCS) does not allow
        np.savez(buffer, **arrays)
        with tf.io.gfile.GFile(os.path.join(directory, MONITOR_WEIGHTS_FILE), "wb") as f:
            f.write(buffer.getvalue())

    def _pick_weights(self) -> Dict[str, Dict[str, List[np.ndarray]]]:
        """owner ("best", "alternative/<label>") -> network -> the weights at that owner's picks (the live dicts)."""
        return {"best": self.best_weights,
                **{f"alternative/{label}": weights for label, weights in self.alternative_weights.items()}}

    def restore_state(self, directory: str) -> bool:
        """Puts back what `save_state` wrote: the checks are replayed through the pick rules (the same picks and
        early-stop count) and the picks' weights reloaded. False, and the monitor starts afresh, where the
        checkpoint holds no monitor state (written before session 58, or by a run without the judge)."""
        state_path = os.path.join(directory, MONITOR_STATE_FILE)
        weights_path = os.path.join(directory, MONITOR_WEIGHTS_FILE)
        if not (tf.io.gfile.exists(state_path) and tf.io.gfile.exists(weights_path)):
            return False
        with tf.io.gfile.GFile(state_path) as f:
            history = json.load(f)["history"]
        for result in history:
            self.history.append(result)
            self.picks.record(result)
            for picks in self.alternatives.values():
                picks.record(result)
        with tf.io.gfile.GFile(weights_path, "rb") as f:
            arrays = dict(np.load(io.BytesIO(f.read())))
        owners, unfollowed = self._pick_weights(), set()
        for key in sorted(arrays):  # "<owner>/<network>/<index, zero-padded>"
            owner, name, _ = key.rsplit("/", 2)
            if owner in owners:
                owners[owner].setdefault(name, []).append(arrays[key])
            else:
                unfollowed.add(owner)
        if unfollowed:
            log.warning("The checkpoint keeps picks this run does not follow (judge_also_pick): %s",
                        ", ".join(sorted(unfollowed)))
        log.info("Resumed the judge monitor: %d checks (steps %s-%s), picks %s", len(history),
                 history[0]["step"] if history else "-", history[-1]["step"] if history else "-",
                 self.picks.describe() or "none yet")
        return True

    # -- scoring -------------------------------------------------------------------------------------
    def score(self) -> dict:
        gan = self.model
        judged = self._judge_samples(self.z, self.requested)
        result = {"step": self.step, **control_accuracies(judged, self.requested, self.attributes),
                  **fidelity(judged["features"], self.real_features)}
        if self.heldout is not None:
            held = self._judge_samples(self.heldout["z"], self.heldout["requested"])["features"]
            result.update(fidelity(held, self.heldout["features"], "_heldout"))
        result["edit_success"] = self._edit_success(gan.export_editor, self.edits)
        if gan.export_editor is not gan.editor:
            result["edit_success_raw"] = self._edit_success(gan.editor, self.edits)
        held_edits = 0
        if self.heldout is not None:
            result["edit_success_heldout"] = self._edit_success(gan.export_editor, self.heldout_edits)
            held_edits = len(self.heldout_edits["sources"])
        return complete_check(result, self.attributes, len(self.edits["sources"]), held_edits)

    def _judge_samples(self, z: np.ndarray, requested: Dict[str, np.ndarray]) -> dict:
        """The judge's view of the EMA generator's samples for latents `z` and requested ids."""
        conditions = {a: np.eye(size, dtype="float32")[requested[a]] for a, size in self.vocab_sizes.items()}
        generated = self.model.ema_generator({"z": z, **conditions}, training=False)
        return self.judge(np.asarray(generated, dtype="float32"))

    def _edit_success(self, editor, edits: dict) -> float:
        strength = np.ones((len(edits["sources"]), 1), dtype="float32")
        edited = editor({"image": edits["sources"], **edits["conditions"], "strength": strength,
                         "background": np.zeros_like(strength)}, training=False)
        return edit_success(self.judge(np.asarray(edited["image"], dtype="float32")), edits, self.attributes)

    def check(self) -> dict:
        result = self.score()
        self.history.append(result)
        with self.writer.as_default(step=self.step):
            for key, value in result.items():
                if key != "step":
                    tf.summary.scalar(f"judge/{key}", value)
        taken, improved = self.picks.record(result)
        snapshot: Dict[str, List[np.ndarray]] = {}  # network -> this check's weights, read once for every pick

        def weights(side: str) -> Dict[str, List[np.ndarray]]:
            for name in SIDES[side]:
                if name not in snapshot:
                    snapshot[name] = getattr(self.model, name).get_weights()
            return {name: snapshot[name] for name in SIDES[side]}

        if self.cfg.restore_best:
            for side in taken:
                self.best_weights.update(weights(side))
        log.info("%s", self.picks.log_line(result, improved))
        for label, picks in self.alternatives.items():
            alternative_taken, _ = picks.record(result)
            for side in alternative_taken:
                self.alternative_weights[label].update(weights(side))
            if set(alternative_taken) != set(taken):
                log.info("judge at step %d: the alternative pick %s takes %s (the run's own: %s)", self.step, label,
                         " and ".join(alternative_taken) or "neither side", " and ".join(taken) or "neither side")
        return result

    # -- Keras hooks ---------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self.check_start and not self.history:
            log.info("Judging the warm-started weights (the base model's) before the first step")
            self.check()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.cfg.judge_every:
            return
        self.check()
        if self.picks.should_stop(self.step):
            log.warning("Early stop at step %d: neither the generator's nor the editor's judge score has gained "
                        "%.3f for %d checks (best at steps %s)", self.step, self.cfg.early_stop_min_delta,
                        self.cfg.early_stop_patience,
                        {side: best["step"] for side, best in self.best.items()})
            self.model.stop_training = True
            self.stopped_early = True

    @property
    def best(self) -> Dict[str, dict]:
        """side -> the check at which it scored best"""
        return self.picks.best

    @property
    def fid_key(self) -> str:
        return self.picks.fid_key

    @property
    def edit_key(self) -> str:
        return self.picks.edit_key

    @property
    def checks_without_gain(self) -> int:
        return self.picks.checks_without_gain

    @property
    def restored_best(self) -> bool:
        return bool(self.restored)

    def finish(self, before_restore: Optional[Callable[[], None]] = None) -> dict:
        """After training: a last check if the last step was not checked, then each side's best weights back if
        they beat its final ones. `before_restore` is called (e.g. to checkpoint the last weights) after that check
        and before the first side is put back, and only if one is. Returns what the training summary records."""
        if self.model is not None and (not self.history or self.history[-1]["step"] != self.step):
            self.check()
        last = self.history[-1] if self.history else None
        to_restore = [side for side in SIDES
                      if self.cfg.restore_best and self.best.get(side) is not None and self.best[side] is not last]
        if to_restore and before_restore is not None:
            before_restore()
        for side in to_restore:
            best = self.best[side]
            for name in SIDES[side]:
                getattr(self.model, name).set_weights(self.best_weights[name])
            self.restored[side] = best["step"]
            log.info("Restored the %s side's weights of step %d (score %.3f; last step %d scored %.3f)", side,
                     best["step"], self.picks.score(side, best), last["step"],
                     self.picks.score(side, last))
        return {
            "history": self.history,
            "best": {side: best["step"] for side, best in self.best.items()},
            "stopped_early": self.stopped_early,
            "restored_best": self.restored_best,
            "restored": self.restored,
            "best_checksums": {name: values_checksum(v) for name, v in self.best_weights.items()},
            "samples_per_check": int(len(self.z)),
            "edits_per_check": int(len(self.edits["sources"])),
            "heldout_per_check": int(len(self.heldout["z"])) if self.heldout is not None else 0,
            "pick_fid": self.fid_key,
            "pick_edit": self.edit_key,
            "alternatives": {label: {"best": {side: best["step"] for side, best in picks.best.items()},
                                     "differs": self.differing_sides(label)}
                             for label, picks in self.alternatives.items()},
        }

    # -- alternative picks (after finish) ------------------------------------------------------------
    def exported_step(self, side: str) -> Optional[int]:
        """The check whose weights the side exports: its restored pick, else the last check."""
        if side in self.restored:
            return self.restored[side]
        return self.history[-1]["step"] if self.history else None

    def differing_sides(self, label: str) -> List[str]:
        """The sides whose pick under alternative `label` is another check than the one exported."""
        picks = self.alternatives[label]
        return [side for side in SIDE_NAMES
                if side in picks.best and picks.best[side]["step"] != self.exported_step(side)]

    @contextlib.contextmanager
    def alternative_in_place(self, label: str):
        """With the networks holding what alternative `label` would have exported (its picks on the sides where
        they differ, the exported weights elsewhere); the exported weights are back afterwards."""
        exported = {name: getattr(self.model, name).get_weights() for side in SIDES for name in SIDES[side]}
        try:
            for side in self.differing_sides(label):
                for name in SIDES[side]:
                    getattr(self.model, name).set_weights(self.alternative_weights[label][name])
            yield
        finally:
            for name, values in exported.items():
                getattr(self.model, name).set_weights(values)
