"""Seeded percentile-bootstrap confidence intervals."""
from typing import Callable

import numpy as np


def bootstrap(values, statistic: Callable[[np.ndarray], float] = np.mean, num_resamples: int = 1000,
              confidence: float = 0.95, seed: int = 0):
    """(statistic(values), low, high): percentile interval of `statistic` over resamples with replacement.

    `values` is resampled along its first axis, so `statistic` may take `[N, ...]` rows (e.g. paired data).
    NaNs are dropped first (a 1-D input only).
    """
    values = np.asarray(values, np.float64)
    if values.ndim == 1:
        values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError("bootstrap needs at least one value")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(values), size=(num_resamples, len(values)))
    samples = np.array([statistic(values[row]) for row in index], dtype=np.float64)
    tail = (1 - confidence) / 2 * 100
    return float(statistic(values)), float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))


def bootstrap_mean(values, num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0):
    """(mean, low, high) of a 1-D sample; vectorised, since the mean is the common case."""
    values = np.asarray(values, np.float64).reshape(-1)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError("bootstrap_mean needs at least one non-NaN value")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(num_resamples, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return float(values.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))
