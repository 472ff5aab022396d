"""Shared helpers for metric modules: input coercion and validation."""
import numpy as np


def as_features(x, name: str = "features") -> np.ndarray:
    """Returns `x` as a float64 `[N, D]` array; a 1-D input is treated as N samples of one feature."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be [N, D] (or [N]); got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples; got {x.shape[0]}")
    return x


def as_images(x, name: str = "images") -> np.ndarray:
    """Returns `x` as a float64 `[N, H, W, C]` array; a single `[H, W, C]` image gets a batch axis."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"{name} must be [N, H, W, C] or [H, W, C]; got shape {x.shape}")
    return x
