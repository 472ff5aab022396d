"""Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3.

Computed over random subsets (as in Binkowski et al. 2018 and stylegan2-ada's `kernel_inception_distance.py`)
so the cost stays O(subset_size^2); the spread over subsets gives a percentile interval.
"""
import numpy as np

from models.metrics._utils import as_features


def polynomial_kernel(x, y, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd2_unbiased(x, y, degree: int = 3) -> float:
    """Unbiased MMD^2: mean of k(x_i, x_j) over i != j, plus the same for y, minus 2 * mean of k(x_i, y_j)."""
    x, y = as_features(x, "x"), as_features(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x, degree), polynomial_kernel(y, y, degree), polynomial_kernel(x, y, degree)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2 * k_xy.mean())


def kid(features_a, features_b, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0,
        confidence: float = 0.95):
    """KID between two feature sets: (mean over subsets, low, high) with a percentile interval over subsets.

    `subset_size` is capped at the smaller set's size; with one subset covering both sets entirely the result
    equals `mmd2_unbiased(features_a, features_b)`.
    """
    a, b = as_features(features_a, "features_a"), as_features(features_b, "features_b")
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(num_subsets)])
    tail = (1 - confidence) / 2 * 100
    return float(values.mean()), float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))
