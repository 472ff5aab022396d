"""Warm starts across a changed vocabulary: each value keeps its own rows, found by name.

Transform numbers each attribute's values by frequency (`tft.compute_and_apply_vocabulary`), so a grown catalog
renumbers them: a new article type adds a row, and a shift in counts reorders the old ones. The networks hold one
row (or column) per value in every condition-tied weight: the condition embeddings of G and E (`embed_<attr>`),
D's projection (`d_project_<attr>`) and its classifiers (`d_classify_<attr>`, `d_twin_classify_<attr>`). Loaded
as they are, a renumbered vocabulary either does not fit (every conditioned network trained afresh) or fits
with the rows in the wrong order (a "Tshirts" request drew whatever the base had learnt at that line).

`load_remapped` loads the base model's weights into networks built for the base's vocabularies, then copies them
into the run's networks, gathering each condition-tied weight by value name: a value both know keeps its trained
row and a value the catalog no longer has is dropped. A new value's embedding rows (G's and E's condition
embeddings, D's projection: what the networks read the value as) start as a seeded draw from the spread of the
base's rows, a value like the others but its own; its classifier columns (what D answers) start as the mean of
the base's, an uninformed guess. Started at the mean of the base's rows instead, the new values' embeddings
moved a third as far in a 1,300-step retrain as a row of a fresh run (Adam moves each weight ~one learning rate
per step) and the generator drew 4-37 % of three new article types against 7-86 % trained afresh (RESULTS § 60).
"""
import logging
import os
import zlib
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from models.export import read_vocabulary

log = logging.getLogger("vitrine.warm_start")

# Condition-tied layers and the axis of their kernels (and biases) that has one entry per value.
_VALUE_AXIS = {"embed": 0, "d_project": 0, "d_twin_classify": -1, "d_classify": -1}


def base_vocabularies(base_model: str, attributes: Sequence[str]) -> Optional[Dict[str, List[str]]]:
    """The base model's vocabulary per attribute (the assets its SavedModel serves with), or None if it lacks one."""
    found = {}
    for attribute in attributes:
        path = os.path.join(base_model, "assets", attribute)
        if not tf.io.gfile.exists(path):
            return None
        found[attribute] = read_vocabulary(path)
    return found


def vocabulary_changes(base: Dict[str, List[str]], new: Dict[str, List[str]]) -> Dict[str, dict]:
    """Per attribute: the base index of each new value (-1: a value the base never saw), the values added and
    dropped, and whether a value both know has another id here (renumbered: its rows must move)."""
    changes = {}
    for attribute, values in new.items():
        where = {value: index for index, value in enumerate(base[attribute])}
        present = set(values)
        mapping = [where.get(value, -1) for value in values]
        changes[attribute] = {
            "values": list(values),
            "mapping": mapping,
            "added": [value for value in values if value not in where],
            "dropped": [value for value in base[attribute] if value not in present],
            "renumbered": any(old != index for index, old in enumerate(mapping) if old >= 0),
        }
    return changes


def unchanged(changes: Dict[str, dict]) -> bool:
    return all(not (change["added"] or change["dropped"] or change["renumbered"]) for change in changes.values())


def _tied(path: str, attributes: Sequence[str]):
    """(attribute, value axis) when the variable at `path` holds one entry per value of an attribute, else None."""
    parts = path.split("/")
    for part in parts:
        for prefix, axis in _VALUE_AXIS.items():
            for attribute in attributes:
                if part == f"{prefix}_{attribute}":
                    bias = parts[-1] == "bias"
                    return attribute, (0 if bias else axis)
    return None


def remap_values(values: np.ndarray, mapping: Sequence[int], axis: int, spread_seeds=None) -> np.ndarray:
    """`values` with its `axis` gathered by `mapping` (a base index per new value). A new value (-1) takes the mean
    over the base's entries or, with `spread_seeds` (one seed per new value, in order), the mean plus a seeded
    normal draw scaled by the base entries' standard deviation, feature by feature."""
    mapping = np.asarray(mapping, dtype=np.int64)
    gathered = np.take(values, np.maximum(mapping, 0), axis=axis)
    new = np.flatnonzero(mapping < 0)
    if len(new):
        mean = np.mean(values, axis=axis, keepdims=True)
        std = np.std(values, axis=axis, keepdims=True) if values.shape[axis] > 1 else np.abs(mean)
        for k, position in enumerate(new):
            entry = mean
            if spread_seeds is not None:
                noise = np.random.default_rng(spread_seeds[k]).standard_normal(mean.shape)
                entry = mean + noise.astype(values.dtype) * std
            index = [slice(None)] * values.ndim
            index[axis] = slice(position, position + 1)
            gathered[tuple(index)] = entry
    return gathered


def _seeds(attribute: str, values: Sequence[str], mapping: Sequence[int], path: str) -> List[int]:
    """One seed per new value for the weight at `path`: the same in G and its moving average (their paths match)."""
    return [zlib.crc32(f"{attribute}={value}:{path}".encode()) for value, old in zip(values, mapping) if old < 0]


def transfer(source, target, changes: Dict[str, dict]) -> None:
    """Copies `source`'s weights (built for the base's vocabularies) into `target` (the run's), remapping each
    condition-tied weight by value name."""
    attributes = list(changes)
    if len(source.weights) != len(target.weights):
        raise ValueError(f"{target.name}: {len(source.weights)} weights in the base, {len(target.weights)} here")
    for src, dst in zip(source.weights, target.weights):
        if src.path != dst.path:
            raise ValueError(f"{target.name}: base weight {src.path} meets {dst.path}")
        value = np.asarray(src.numpy())
        tied = _tied(src.path, attributes)
        if tied is not None:
            attribute, axis = tied
            change = changes[attribute]
            embedding = axis == 0 and not src.path.endswith("bias")  # a row per value: what a network reads
            seeds = _seeds(attribute, change["values"], change["mapping"], src.path) if embedding else None
            value = remap_values(value, change["mapping"], axis, spread_seeds=seeds)
        if tuple(value.shape) != tuple(dst.shape):
            raise ValueError(f"{target.name}: {src.path} has shape {value.shape} after remapping, the run's "
                             f"{tuple(dst.shape)}")
        dst.assign(value)


def load_remapped(gan, weights_dir: str, base_vocab: Dict[str, List[str]], changes: Dict[str, dict]) -> List[str]:
    """Loads the base's weights from `weights_dir` into `gan`'s networks across the vocabulary `changes`; returns
    the networks loaded (a base without ema_editor weights starts that average from its editor, as
    `models.training.load_networks` does)."""
    from models.training import NETWORKS, build_gan, load_networks

    base_sizes = {attribute: len(values) for attribute, values in base_vocab.items()}
    base_gan = build_gan(gan.cfg, base_sizes)
    loaded = load_networks(base_gan, weights_dir, strict=False)
    # load_networks started base_gan's ema_editor from its editor if the base had none: carry that over too
    filled = "editor" in loaded and "ema_editor" not in loaded
    done = []
    for name in NETWORKS:
        if name not in loaded and not (filled and name == "ema_editor"):
            continue
        try:
            transfer(getattr(base_gan, name), getattr(gan, name), changes)
        except ValueError as err:  # an architecture change as well: that network keeps its fresh weights
            log.warning("%s's base weights do not fit this run beyond its vocabulary (%s): it trains from fresh "
                        "weights", name, err)
            continue
        if name in loaded:
            done.append(name)
    return done


def describe(changes: Dict[str, dict]) -> str:
    parts = []
    for attribute, change in changes.items():
        bits = []
        if change["added"]:
            bits.append(f"{len(change['added'])} new ({', '.join(change['added'][:6])}"
                        f"{', …' if len(change['added']) > 6 else ''})")
        if change["dropped"]:
            bits.append(f"{len(change['dropped'])} gone ({', '.join(change['dropped'][:6])}"
                        f"{', …' if len(change['dropped']) > 6 else ''})")
        if change["renumbered"]:
            bits.append("renumbered")
        if bits:
            parts.append(f"{attribute}: {'; '.join(bits)}")
    return "; ".join(parts) or "unchanged"


def summary(changes: Dict[str, dict]) -> Dict[str, dict]:
    """What the training summary records: per attribute, values added and dropped and whether known values moved."""
    return {attribute: {key: change[key] for key in ("added", "dropped", "renumbered")}
            for attribute, change in changes.items()}
