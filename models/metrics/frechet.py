"""Fréchet distance between two feature sets (FID when the features come from an image network).

FID = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
The trace of the matrix square root is computed from the eigenvalues of the symmetric matrix
S_a^(1/2) S_b S_a^(1/2), which has the same spectrum as S_a S_b but is symmetric PSD, so it needs no complex
arithmetic and gives exactly 0 for identical sets (up to float rounding), unlike `scipy.linalg.sqrtm` on a
near-singular product.

FID is biased upwards at finite sample size, roughly linearly in 1/N (Chong & Forsyth, "Effectively Unbiased FID
and Inception Score and where to find them", CVPR 2020). Two FIDs are only comparable when both are measured with
the same N on both sides; `fid_at_sample_size` measures a reference (e.g. real-train vs real-eval) at the N the
generated set has, with its spread over random draws.
"""
import numpy as np

from models.metrics._utils import as_features


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu_a, sigma_a, mu_b, sigma_b) -> float:
    """Fréchet distance between the Gaussians N(mu_a, sigma_a) and N(mu_b, sigma_b)."""
    mu_a, mu_b = np.atleast_1d(np.asarray(mu_a, np.float64)), np.atleast_1d(np.asarray(mu_b, np.float64))
    sigma_a, sigma_b = np.atleast_2d(np.asarray(sigma_a, np.float64)), np.atleast_2d(np.asarray(sigma_b, np.float64))
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
        raise ValueError(f"feature dimensions differ: {mu_a.shape} vs {mu_b.shape}")
    root_a = _sqrt_psd(sigma_a)
    middle = root_a @ sigma_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eigenvalues, 0, None))))
    distance = float(np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_sqrt)
    # Rounding can leave a tiny negative number for identical inputs; a distance is never negative.
    return max(distance, 0.0)


def feature_statistics(features):
    """(mean, covariance) of `[N, D]` features, covariance with N-1 in the denominator."""
    features = as_features(features)
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def fid(features_a, features_b) -> float:
    """Fréchet distance between the Gaussian fits of two `[N, D]` feature sets (0 for identical sets)."""
    mu_a, sigma_a = feature_statistics(features_a)
    mu_b, sigma_b = feature_statistics(features_b)
    return frechet_distance(mu_a, sigma_a, mu_b, sigma_b)


def fid_parts(features_a, features_b) -> dict:
    """FID's two terms and the spread of `features_a` relative to `features_b` (a = generated, b = real):
    {"mean": |mu_a - mu_b|^2 (the sets' average looks differ), "covariance": Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (their
    variation differs: too little, too much or along other directions), "spread_ratio": Tr S_a / Tr S_b (the share of
    the real set's total variance the generated set shows: a generator that makes one image per condition reads far
    below 1)}. mean + covariance is `fid`."""
    mu_a, sigma_a = feature_statistics(features_a)
    mu_b, sigma_b = feature_statistics(features_b)
    mean = float(np.sum((mu_a - mu_b) ** 2))
    total = frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
    return {"mean": mean, "covariance": max(total - mean, 0.0),
            "spread_ratio": float(np.trace(sigma_a) / max(np.trace(sigma_b), 1e-12))}


def fid_at_sample_size(features_a, features_b, n: int, draws: int = 10, seed: int = 0):
    """(mean, std) FID between `n` random rows of `features_a` and all of `features_b`, over `draws` draws.

    When `n` is at least the number of rows of `features_a` there is nothing to draw: the plain FID, std 0.
    Seeded, so the same inputs give the same answer.
    """
    features_a = as_features(features_a)
    n = int(n)
    if n < 2:
        raise ValueError(f"sample size must be at least 2 to estimate a covariance, got {n}")
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    if n >= len(features_a):
        return fid(features_a, features_b), 0.0
    rng = np.random.default_rng(seed)
    mu_b, sigma_b = feature_statistics(features_b)
    values = []
    for _ in range(draws):
        rows = rng.choice(len(features_a), size=n, replace=False)
        mu_a, sigma_a = feature_statistics(features_a[rows])
        values.append(frechet_distance(mu_a, sigma_a, mu_b, sigma_b))
    return float(np.mean(values)), float(np.std(values))


def fid_infinity(sample_sizes, fids):
    """(FID at N -> infinity, slope k) from a least-squares line FID(N) = FID_inf + k / N (Chong & Forsyth 2020).

    `fids[i]` is a FID measured with `sample_sizes[i]` samples; needs at least two distinct sizes. The intercept
    compares generators (or a generator and the real-train floor) without the 1/N bias of any one sample size.
    """
    sizes = np.asarray(sample_sizes, np.float64)
    values = np.asarray(fids, np.float64)
    if sizes.shape != values.shape or sizes.ndim != 1:
        raise ValueError(f"need one FID per sample size; got {sizes.shape} sizes and {values.shape} FIDs")
    if len(np.unique(sizes)) < 2 or np.any(sizes <= 0):
        raise ValueError(f"need at least two distinct positive sample sizes; got {sizes.tolist()}")
    slope, intercept = np.polyfit(1.0 / sizes, values, 1)
    return float(intercept), float(slope)
