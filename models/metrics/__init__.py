"""Evaluation metrics for Vitrine: pure NumPy/SciPy, no TensorFlow, so they run anywhere and test fast.

One file per metric family, as in stylegan2-ada's `metrics/`:
- `frechet.py`  FID between two feature sets; FID of a random subsample at a given N (mean, std);
                extrapolation of FID to infinite N; FID's mean and covariance terms and the sets' spread ratio.
- `kernel.py`   KID (unbiased MMD^2, cubic polynomial kernel, subsets).
- `accuracy.py` control accuracy, per-value accuracy, confusion matrix.
- `fidelity.py` masked L1, SSIM, PSNR, identity error (per image); the colour-jitter edit baseline.
- `diversity.py` within-condition mean pairwise feature distance.
- `bootstrap.py` seeded percentile confidence intervals.
- `_utils.py`   shared input coercion/validation.

The registry `METRICS` maps a name to a function; `compute(name, *args, **kwargs)` looks it up.
To add a metric: write `models/metrics/<name>.py` with a plain function over NumPy arrays, import it here,
add one `METRICS` entry, and add a hand-computed test to `tests/test_metrics.py`.
"""
from typing import Callable, Dict

from models.metrics.accuracy import accuracy, confusion_matrix, control_accuracy, per_value_accuracy
from models.metrics.bootstrap import bootstrap, bootstrap_mean
from models.metrics.diversity import diversity, mean_pairwise_distance
from models.metrics.fidelity import colour_jitter, identity_error, masked_l1, psnr, ssim
from models.metrics.frechet import (feature_statistics, fid, fid_at_sample_size, fid_infinity, fid_parts,
                                    frechet_distance)
from models.metrics.kernel import kid, mmd2_unbiased, polynomial_kernel

METRICS: Dict[str, Callable] = {
    # distribution distances: (features_a [N, D], features_b [M, D]) -> float, or (value, low, high) for KID
    "fid": fid,
    "fid_at_sample_size": fid_at_sample_size,
    "fid_parts": fid_parts,
    "kid": kid,
    # control: (true_ids [N], predicted ids [N] or logits [N, V], ...) -> float / dict / matrix
    "accuracy": accuracy,
    "per_value_accuracy": per_value_accuracy,
    "confusion_matrix": confusion_matrix,
    "control_accuracy": control_accuracy,
    # fidelity: (reference images, test images, ...) -> per-image [N]
    "masked_l1": masked_l1,
    "ssim": ssim,
    "psnr": psnr,
    "identity_error": identity_error,
    # diversity: (features [N, D], groups [N] or [N, k]) -> float
    "diversity": diversity,
}


def compute(name: str, *args, **kwargs):
    """Runs the registered metric `name`; raises ValueError naming the available metrics if unknown."""
    if name not in METRICS:
        raise ValueError(f"Unknown metric {name!r}; available: {', '.join(sorted(METRICS))}")
    return METRICS[name](*args, **kwargs)


__all__ = ["METRICS", "compute", "accuracy", "bootstrap", "bootstrap_mean", "colour_jitter", "confusion_matrix",
           "control_accuracy", "diversity", "feature_statistics", "fid", "fid_at_sample_size", "fid_infinity",
           "fid_parts", "frechet_distance", "identity_error", "kid",
           "masked_l1", "mean_pairwise_distance", "mmd2_unbiased", "per_value_accuracy", "polynomial_kernel", "psnr",
           "ssim"]
