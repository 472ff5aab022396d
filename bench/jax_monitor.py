"""The Trainer's judge monitor for the JAX trainer (bench/train_gan_jax.py --judge): score, pick, stop early.

On a machine without TensorFlow the pipeline's judge cannot load as a SavedModel, so bench/export_train_arrays.py
`--judge` carries its variables in the arrays file and this module loads them into the same network
(models/judge_network.py) built with JAX. Every `judge_every` steps a check scores what would be saved, as
models/judge_monitor.py does for the Trainer:
- control accuracy per attribute: the EMA generator draws `judge_samples` images for the label combinations of
  fixed training records, and the judge must read the requested values;
- edit success: the EMA editor changes one attribute of `judge_samples // 2` fixed training images to another
  value drawn with the records' frequencies (models/judge_pick.py `edit_set`), and the judge must read the target;
- KID and FID in the judge's feature space against those training images (`kid`, `fid`), and, when the arrays carry
  held-out records (the preset's `judge_holdout`), against them (`kid_heldout`, `fid_heldout`), with their edits
  (`edit_success_heldout`, `edit_success_all`).
Each side keeps its best check by models/judge_pick.py `Picks`, the Trainer's rules, and its weights (host copies).
What differs from the Trainer's monitor: the fixed records are drawn by NumPy's generator, not TensorFlow's shuffle,
and the images are the arrays' uint8 copies (at most 1/255 from the Transform's floats).
"""
import json
from typing import Dict, List, Optional

import jax
import numpy as np

from models.config import ModelConfig
from models.judge_pick import Picks, complete_check, control_accuracies, edit_set, edit_success, fidelity

BATCH = 256


def load_judge_arrays(path: str) -> Optional[dict]:
    """-> {"weights": [arrays in build_judge variable order], "meta": the judge's entry, "heldout": {"image":
    uint8, attribute: ids} or None} from an export_train_arrays file; None when it carries no judge."""
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        if "judge" not in meta:
            return None
        weights = [data[f"judge_w{i:04d}"] for i in range(len(meta["judge"]["variables"]))]
        heldout = None
        if "heldout_images" in data.files:
            heldout = {"image": data["heldout_images"],
                       **{a: data[f"heldout_{a}_id"].astype(np.int32) for a in meta["attributes"]}}
    return {"weights": weights, "meta": meta["judge"], "heldout": heldout}


def _float(images_u8: np.ndarray) -> np.ndarray:
    return images_u8.astype(np.float32) / 127.5 - 1.0


def in_batches(call, inputs: Dict[str, np.ndarray]):
    """`call` (jitted, on {name: [BATCH, ...]}) over inputs of any length: each batch padded with zeros to BATCH rows
    (one compiled shape), the outputs (an array or a dict of arrays) cut back and joined as float32 numpy."""
    count = len(next(iter(inputs.values())))
    outputs = []
    for start in range(0, count, BATCH):
        rows = min(BATCH, count - start)
        padded = {k: np.pad(np.asarray(v[start:start + rows], np.float32),
                            [(0, BATCH - rows)] + [(0, 0)] * (np.ndim(v) - 1)) for k, v in inputs.items()}
        outputs.append(jax.tree_util.tree_map(lambda x: np.asarray(x, np.float32)[:rows], call(padded)))
    return jax.tree_util.tree_map(lambda *parts: np.concatenate(parts), *outputs)


class JaxJudge:
    """The pipeline's judge, built with the JAX backend from carried variables: `judge(images [N,R,R,3] in [-1,1])`
    -> {"features", "<attr>_logits"} as numpy, in fixed-size jitted batches."""

    def __init__(self, cfg: ModelConfig, vocab_sizes: Dict[str, int], weights: List[np.ndarray], meta: dict):
        """`weights` and `meta` (its "channels" and "variables": paths and shapes) as load_judge_arrays reads them."""
        import keras

        from models.judge_network import build_judge

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("float32")  # as the Trainer's judge, whatever the networks' precision
        try:
            self.model = build_judge(cfg.replace(judge_channels=meta["channels"]), vocab_sizes)
        finally:
            keras.config.set_dtype_policy(previous)
        entries = meta["variables"]
        variables = self.model.variables
        if len(variables) != len(weights):
            raise ValueError(f"the carried judge has {len(weights)} variables, this network {len(variables)}")
        for variable, value, entry in zip(variables, weights, entries):
            if tuple(variable.shape) != tuple(value.shape) or variable.name != entry["path"].split("/")[-1]:
                raise ValueError(f"judge variable {variable.path} {tuple(variable.shape)} does not take the carried "
                                 f"{entry['path']} {tuple(value.shape)}")
            variable.assign(value)
        trainable = [v.value for v in self.model.trainable_variables]
        fixed = [v.value for v in self.model.non_trainable_variables]
        self._call = jax.jit(lambda x: self.model.stateless_call(trainable, fixed, x["image"], training=False)[0])

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        return in_batches(self._call, {"image": images})


class JaxJudgeMonitor:
    """Checks the EMA networks of a FullStep state; keeps each side's pick (its step, scores and weights)."""

    def __init__(self, cfg: ModelConfig, vocab_sizes: Dict[str, int], stepper, judge: JaxJudge,
                 images_u8: np.ndarray, ids: Dict[str, np.ndarray], heldout: Optional[dict] = None):
        self.cfg, self.vocab_sizes, self.stepper, self.judge = cfg, vocab_sizes, stepper, judge
        self.attributes = list(cfg.condition_attributes)
        rng = np.random.default_rng(cfg.seed + 7)
        n = cfg.judge_samples
        rows = rng.permutation(len(images_u8))[:n]
        examples = {"image": _float(images_u8[rows]), **{a: np.asarray(ids[a])[rows] for a in self.attributes}}
        pick = rng.permutation(np.resize(np.arange(len(rows)), n))
        self.z = rng.standard_normal((n, cfg.z_dim)).astype("float32")
        self.requested = {a: examples[a][pick] for a in self.attributes}
        self.edits = edit_set(rng, examples, examples, max(n // 2, 1), self.attributes, vocab_sizes)
        self.real_features = judge(examples["image"])["features"]
        self.heldout = None
        if heldout is not None:
            held = {"image": _float(heldout["image"]), **{a: np.asarray(heldout[a]) for a in self.attributes}}
            held_rng = np.random.default_rng(cfg.seed + 11)
            self.heldout = {"requested": {a: held[a] for a in self.attributes},
                            "z": held_rng.standard_normal((len(held["image"]), cfg.z_dim)).astype("float32"),
                            "features": judge(held["image"])["features"]}
            self.heldout_edits = edit_set(np.random.default_rng(cfg.seed + 13), held, examples, len(held["image"]),
                                          self.attributes, vocab_sizes)
        self.picks = Picks(cfg, self.attributes)
        if self.heldout is None and self.picks.needs_heldout:
            raise ValueError(f"judge_pick_fid={cfg.judge_pick_fid!r} / judge_pick_edit={cfg.judge_pick_edit!r} need "
                             "held-out records: export the arrays with --judge and the preset's judge_holdout > 0")
        self.history: List[dict] = []
        self.best_weights: Dict[str, List[np.ndarray]] = {}  # "ema_g" / "ema_e" -> host copies at the side's pick
        generate = lambda v, x: stepper.g.model.stateless_call(v, [], x, training=False)[0]  # noqa: E731
        edit = lambda v, x: stepper.e.model.stateless_call(v, [], x, training=False)[0]["image"]  # noqa: E731
        self._generate, self._edit = jax.jit(generate), jax.jit(edit)

    def _generated(self, weights, z: np.ndarray, requested: Dict[str, np.ndarray]) -> np.ndarray:
        conditions = {a: np.eye(size, dtype="float32")[requested[a]] for a, size in self.vocab_sizes.items()}
        return in_batches(lambda inputs: self._generate(weights, inputs), {"z": z, **conditions})

    def _edit_success(self, weights, edits: dict) -> float:
        ones = np.ones((len(edits["sources"]), 1), np.float32)
        inputs = {"image": edits["sources"], **edits["conditions"], "strength": ones, "background": 0 * ones}
        edited = in_batches(lambda batch: self._edit(weights, batch), inputs)
        return edit_success(self.judge(edited), edits, self.attributes)

    def score(self, state, step: int) -> dict:
        judged = self.judge(self._generated(state["ema_g"], self.z, self.requested))
        result = {"step": step, **control_accuracies(judged, self.requested, self.attributes),
                  **fidelity(judged["features"], self.real_features)}
        held_edits = 0
        if self.heldout is not None:
            held = self.judge(self._generated(state["ema_g"], self.heldout["z"], self.heldout["requested"]))
            result.update(fidelity(held["features"], self.heldout["features"], "_heldout"))
        result["edit_success"] = self._edit_success(state["ema_e"], self.edits)
        if self.heldout is not None:
            result["edit_success_heldout"] = self._edit_success(state["ema_e"], self.heldout_edits)
            held_edits = len(self.heldout_edits["sources"])
        return complete_check(result, self.attributes, len(self.edits["sources"]), held_edits)

    def check(self, state, step: int) -> str:
        """Scores the state, records the check and copies the weights of each side that picks it; -> a log line."""
        result = self.score(state, step)
        self.history.append(result)
        taken, improved = self.picks.record(result)
        for side in taken:
            key = "ema_g" if side == "generator" else "ema_e"
            self.best_weights[key] = [np.asarray(v, np.float32) for v in state[key]]
        return self.picks.log_line(result, improved)

    def summary(self) -> dict:
        """What the manifest records of the checks (their figures are `history`, for the training log)."""
        return {"picked": {side: best["step"] for side, best in self.picks.best.items()},
                "pick_fid": self.picks.fid_key, "pick_edit": self.picks.edit_key,
                "samples_per_check": int(len(self.z)), "edits_per_check": int(len(self.edits["sources"])),
                "heldout_per_check": int(len(self.heldout["z"])) if self.heldout is not None else 0}
