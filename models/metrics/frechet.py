"""Fréchet distance between two feature sets (FID when the features come from an image network).

FID = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
The trace of the matrix square root is computed from the eigenvalues of the symmetric matrix
S_a^(1/2) S_b S_a^(1/2), which has the same spectrum as S_a S_b but is symmetric PSD, so it needs no complex
arithmetic and gives exactly 0 for identical sets (up to float rounding), unlike `scipy.linalg.sqrtm` on a
near-singular product.
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
