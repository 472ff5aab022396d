"""Within-condition diversity: mean pairwise feature distance among samples that share a condition.

A generator that collapses to one image per condition scores ~0 even when its FID looks acceptable.
"""
import numpy as np

from models.metrics._utils import as_features


def mean_pairwise_distance(features) -> float:
    """Mean Euclidean distance over all unordered pairs of rows."""
    features = as_features(features)
    squared = np.sum(features ** 2, axis=1)
    d2 = np.clip(squared[:, None] + squared[None, :] - 2 * features @ features.T, 0, None)
    upper = np.triu_indices(len(features), k=1)
    return float(np.mean(np.sqrt(d2[upper])))


def diversity(features, groups, max_per_group: int = 256, seed: int = 0) -> float:
    """Mean over condition groups (weighted by group size) of the within-group mean pairwise distance.

    `groups`: `[N]` or `[N, k]` condition ids (rows with identical ids form a group). Groups with fewer than two
    members are skipped; groups larger than `max_per_group` are subsampled. Returns NaN if no group has two members.
    """
    features = np.asarray(features, np.float64)
    groups = np.asarray(groups)
    if groups.ndim == 1:
        groups = groups[:, None]
    if len(groups) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(groups)} group ids")
    _, group_index = np.unique(groups, axis=0, return_inverse=True)
    group_index = group_index.reshape(-1)
    rng = np.random.default_rng(seed)
    total, weight = 0.0, 0
    for g in np.unique(group_index):
        members = np.flatnonzero(group_index == g)
        if len(members) < 2:
            continue
        if len(members) > max_per_group:
            members = rng.choice(members, max_per_group, replace=False)
        total += len(members) * mean_pairwise_distance(features[members])
        weight += len(members)
    return float(total / weight) if weight else float("nan")
