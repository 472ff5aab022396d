"""Background clean-up: the editor's third kind of edit, its training pairs and its score.

The catalog shoots products on white (in a 1-in-20 sample of the shared catalog 80 % of images have a >= 90 %
near-white border), so every such image gives a clean-up pair for free: put its background (the near-white pixels
connected to the border) onto a random colour, gradient or texture, and ask the editor for the image on pure white.
A white tee keeps its white: only white *connected to the border* counts as background (morphological
reconstruction from the border, `background_mask`), not every white pixel.

Images are float [-1, 1], NHWC. The editor's `background` input is [B, 1]: 1 = clean the background to white,
0 = keep it as it is.

    background_mask(images) -> [B,H,W,1] float, 1 = background
    eligible(images)        -> [B] float, 1 = the border is near-white (a usable clean-up pair)
    random_backgrounds(n, resolution, seed) -> [n,R,R,3] colours, gradients and textures
    clean_up_pairs(images, seed) -> (cluttered inputs, white-background targets, masks, eligibility)
    clean_up_scores(cleaned, originals, masks) -> per-image background L1 to white, product L1, clean flags
"""
from typing import Dict, Optional, Tuple

import tensorflow as tf

WHITE_THRESHOLD = 0.8  # a channel above 0.8 in [-1, 1] (~230 / 255) is near-white; all three must be
BORDER_WHITE_MIN = 0.9  # an image is a clean-up pair when >= 90 % of its border is near-white
CLEAN_MIN = 0.9  # a cleaned image is clean when >= 90 % of its background pixels are near-white
BACKGROUND_VALUES = ("keep", "white")  # the serving input's values ("" = keep)


def near_white(images: tf.Tensor, threshold: float = WHITE_THRESHOLD) -> tf.Tensor:
    """[B,H,W,3] -> [B,H,W,1] float, 1 where every channel is above `threshold`."""
    return tf.cast(tf.reduce_min(images, axis=-1, keepdims=True) > threshold, tf.float32)


def border_width(resolution: int) -> int:
    """The border that decides eligibility: 4 px at 224 (as the catalog's SOURCE.md measures it), >= 1 px."""
    return max(1, round(4 * resolution / 224))


def _border(resolution: int) -> tf.Tensor:
    width = border_width(resolution)
    inside = tf.pad(tf.zeros([resolution - 2 * width, resolution - 2 * width]), [[width, width], [width, width]],
                    constant_values=1.0)
    return inside[None, :, :, None]  # [1, R, R, 1], 1 on the border


def eligible(images: tf.Tensor) -> tf.Tensor:
    """[B] float: 1 where >= BORDER_WHITE_MIN of the image's border is near-white."""
    border = _border(int(images.shape[1]))
    white = tf.reduce_sum(near_white(images) * border, axis=[1, 2, 3]) / tf.reduce_sum(border)
    return tf.cast(white >= BORDER_WHITE_MIN, tf.float32)


def background_mask(images: tf.Tensor) -> tf.Tensor:
    """[B,H,W,1] float, 1 = background: the near-white pixels connected (8-neighbour) to the image border.

    Morphological reconstruction: start from the near-white border pixels and grow through near-white pixels,
    one 3x3 step at a time, H + W times (enough for any path on the grid that does not spiral).
    """
    white = near_white(images)
    size = int(images.shape[1]) + int(images.shape[2])
    grown = white * _border(int(images.shape[1]))

    def grow(i, mask):
        return i + 1, tf.nn.max_pool2d(mask, 3, 1, "SAME") * white

    _, grown = tf.while_loop(lambda i, _: i < size, grow, (tf.constant(0), grown))
    return grown


def random_backgrounds(n, resolution: int, seed: Optional[Tuple[int, int]] = None) -> tf.Tensor:
    """[n, R, R, 3] in [-1, 1]: a linear gradient between two random colours along a random direction, plus a
    low-frequency texture of random strength. Stateless when `seed` (two ints) is given, for the evaluator."""
    def uniform(shape, minval=0.0, maxval=1.0, offset=0):
        if seed is None:
            return tf.random.uniform(shape, minval, maxval)
        return tf.random.stateless_uniform(shape, [seed[0], seed[1] + offset], minval, maxval)

    colours = uniform([n, 2, 3], -1.0, 1.0, 1)
    angle = uniform([n, 1, 1], 0.0, 6.2832, 2)
    steepness = uniform([n, 1, 1], 0.0, 1.0, 3)  # 0 = a flat colour
    axis = tf.linspace(-1.0, 1.0, resolution)
    ys, xs = tf.meshgrid(axis, axis, indexing="ij")
    t = (tf.cos(angle) * xs[None] + tf.sin(angle) * ys[None]) * steepness * 0.5 + 0.5  # [n, R, R] in [0, 1]
    t = t[..., None]
    images = colours[:, None, None, 0] * (1.0 - t) + colours[:, None, None, 1] * t
    texture = tf.image.resize(uniform([n, 4, 4, 3], -1.0, 1.0, 4), [resolution, resolution], method="bilinear")
    images += texture * uniform([n, 1, 1, 1], 0.0, 0.5, 5)
    return tf.clip_by_value(images, -1.0, 1.0)


def clean_up_pairs(images: tf.Tensor, seed: Optional[Tuple[int, int]] = None) -> Dict[str, tf.Tensor]:
    """Training (and evaluation) pairs from catalog images on white.

    -> {"inputs": the image with its background replaced, "targets": the image on pure white, "masks": the
    background mask [B,R,R,1], "eligible": [B] (0 = the border was not white: no pair, weight it out)}.
    """
    images = tf.cast(images, tf.float32)
    masks = background_mask(images)
    backgrounds = random_backgrounds(tf.shape(images)[0], int(images.shape[1]), seed)
    return {"inputs": masks * backgrounds + (1.0 - masks) * images,
            "targets": masks + (1.0 - masks) * images,
            "masks": masks,
            "eligible": eligible(images)}


def clean_up_scores(cleaned: tf.Tensor, originals: tf.Tensor, masks: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Per image [B]: `background_l1` mean |cleaned - white| over the background, `product_l1` mean
    |cleaned - original| over the product, `clean` 1 when >= CLEAN_MIN of the background is near-white."""
    cleaned = tf.cast(cleaned, tf.float32)
    masks = tf.cast(masks, tf.float32)
    background_pixels = tf.maximum(tf.reduce_sum(masks, axis=[1, 2, 3]), 1.0)
    product = 1.0 - masks
    product_pixels = tf.maximum(tf.reduce_sum(product, axis=[1, 2, 3]), 1.0)
    to_white = tf.reduce_mean(tf.abs(cleaned - 1.0), axis=-1, keepdims=True)
    to_original = tf.reduce_mean(tf.abs(cleaned - tf.cast(originals, tf.float32)), axis=-1, keepdims=True)
    whiteness = tf.reduce_sum(near_white(cleaned) * masks, axis=[1, 2, 3]) / background_pixels
    return {"background_l1": tf.reduce_sum(to_white * masks, axis=[1, 2, 3]) / background_pixels,
            "product_l1": tf.reduce_sum(to_original * product, axis=[1, 2, 3]) / product_pixels,
            "clean": tf.cast(whiteness >= CLEAN_MIN, tf.float32)}


def background_flags(values: tf.Tensor) -> tf.Tensor:
    """Serving strings [N] ("" or "keep" -> 0, "white" -> 1) -> float [N, 1]; anything else is an
    InvalidArgumentError that lists the valid values."""
    values = tf.strings.lower(tf.strings.strip(values))
    known = tf.reduce_any(tf.equal(values[:, None], tf.constant(("",) + BACKGROUND_VALUES)[None, :]), axis=1)
    bad = tf.strings.reduce_join(tf.boolean_mask(values, tf.logical_not(known))[:1])
    message = tf.strings.join(["Unknown background: '", bad, "'. Valid values: ", ", ".join(BACKGROUND_VALUES),
                               " (empty = keep)"])
    with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(known), [message])]):
        return tf.cast(tf.equal(values, "white"), tf.float32)[:, None]


def put_on_random_background(encoded: bytes, seed: Tuple[int, int] = (0, 0)) -> bytes:
    """A catalog photo (JPEG/PNG bytes) with its white background replaced by a seeded random one, as PNG bytes:
    a cluttered input to show clean-up on (the demo). A photo whose border is not white comes back unchanged."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    floats = tf.cast(image, tf.float32)[None] / 127.5 - 1.0
    pairs = clean_up_pairs(floats, seed=seed)
    result = pairs["inputs"] if float(pairs["eligible"][0]) > 0 else floats
    return tf.io.encode_png(tf.cast(tf.clip_by_value(tf.round((result[0] + 1.0) * 127.5), 0, 255), tf.uint8)).numpy()
