"""How faithfully an edit keeps its source: masked L1, SSIM, PSNR, identity at zero strength.

All functions take images `[N, H, W, C]` (or one `[H, W, C]`) and return one value per image (`[N]` float64),
so the caller can bootstrap a confidence interval over images.
"""
import numpy as np
from scipy.ndimage import gaussian_filter

from models.metrics._utils import as_images


_LUMA = np.array([0.299, 0.587, 0.114])
# RGB <-> YIQ: a hue shift is a rotation of the (I, Q) chroma plane.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def colour_jitter(images, seed: int = 0, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                  hue: float = 0.5) -> np.ndarray:
    """A naive whole-image recolour (torchvision ColorJitter's four factors), images in [-1, 1] -> [-1, 1].

    Per image: brightness x U(1±b), contrast and saturation blended towards the mean grey / the luma by U(1±c),
    hue rotated by U(±hue)·360° in YIQ. It is the baseline an editor must beat on preservation: it changes the
    colour of everything, background included, while the editor should change only inside its mask.
    """
    x = (as_images(images, "images") + 1.0) / 2.0
    rng = np.random.default_rng(seed)
    n = len(x)
    b = rng.uniform(1 - brightness, 1 + brightness, n)[:, None, None, None]
    c = rng.uniform(1 - contrast, 1 + contrast, n)[:, None, None, None]
    s = rng.uniform(1 - saturation, 1 + saturation, n)[:, None, None, None]
    theta = rng.uniform(-hue, hue, n) * 2 * np.pi
    x = np.clip(x * b, 0, 1)
    grey = (x @ _LUMA).mean(axis=(1, 2))[:, None, None, None]
    x = np.clip(grey + c * (x - grey), 0, 1)
    luma = (x @ _LUMA)[..., None]
    x = np.clip(luma + s * (x - luma), 0, 1)
    yiq = x @ _RGB_TO_YIQ.T
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    i, q = yiq[..., 1].copy(), yiq[..., 2].copy()
    yiq[..., 1], yiq[..., 2] = cos * i - sin * q, sin * i + cos * q
    x = np.clip(yiq @ _YIQ_TO_RGB.T, 0, 1)
    return x * 2.0 - 1.0


def masked_l1(source, edited, keep_mask) -> np.ndarray:
    """Per-image mean |edited - source| weighted by `keep_mask` (`[N, H, W, 1]`, 1 = region that must stay).

    The editor's mask m is the weight of the source (x' = m*x + (1-m)*delta), so passing it directly measures
    change outside the edited region. An image whose mask is all zero gets NaN (nothing to preserve).
    """
    source, edited = as_images(source, "source"), as_images(edited, "edited")
    keep = as_images(keep_mask, "keep_mask")
    if source.shape != edited.shape:
        raise ValueError(f"source {source.shape} and edited {edited.shape} differ in shape")
    keep = np.broadcast_to(keep, source.shape)
    weight = keep.sum(axis=(1, 2, 3))
    total = (keep * np.abs(edited - source)).sum(axis=(1, 2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1), np.nan)


def psnr(reference, test, data_range: float = 2.0) -> np.ndarray:
    """Per-image PSNR in dB; `data_range` is max - min of the pixel scale (2 for [-1, 1], 1 for [0, 1], 255)."""
    reference, test = as_images(reference, "reference"), as_images(test, "test")
    mse = np.mean((reference - test) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return np.where(mse > 0, 10 * np.log10(data_range ** 2 / np.where(mse > 0, mse, 1)), np.inf)


def ssim(reference, test, data_range: float = 2.0, sigma: float = 1.5, k1: float = 0.01,
         k2: float = 0.03) -> np.ndarray:
    """Per-image SSIM (Wang et al. 2004) with a Gaussian window, averaged over pixels and channels.

    SSIM is invariant to scaling pixels and `data_range` together, but not to shifting them: compare models on
    one pixel convention ([-1, 1] with data_range=2 throughout Vitrine).
    """
    reference, test = as_images(reference, "reference"), as_images(test, "test")
    if reference.shape != test.shape:
        raise ValueError(f"reference {reference.shape} and test {test.shape} differ in shape")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    # Blur only the spatial axes; truncate=3.5 gives the customary 11x11 window at sigma=1.5.
    blur = lambda x: gaussian_filter(x, sigma=(0, sigma, sigma, 0), truncate=3.5, mode="reflect")
    mu_x, mu_y = blur(reference), blur(test)
    var_x = blur(reference * reference) - mu_x ** 2
    var_y = blur(test * test) - mu_y ** 2
    cov = blur(reference * test) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(axis=(1, 2, 3))


def identity_error(source, output) -> np.ndarray:
    """Per-image max |output - source|: an editor at strength 0 must return its input (expect ~0)."""
    source, output = as_images(source, "source"), as_images(output, "output")
    return np.abs(output - source).max(axis=(1, 2, 3))
