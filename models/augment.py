"""Augmentation: DiffAugment inside the D step (Zhao et al. 2020), and a light tf.data augmentation.

DiffAugment is differentiable and applied to real and fake images alike, so D cannot tell them apart by
augmentation artefacts while G/E still receive gradients through it. Images are float in [-1, 1], NHWC.
No hue change anywhere: colour is a condition attribute (baseColour), hue jitter would corrupt the labels.
"""
import tensorflow as tf


def rand_brightness(x):
    return x + (tf.random.uniform([tf.shape(x)[0], 1, 1, 1]) - 0.5)


def rand_saturation(x):
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    return (x - mean) * (tf.random.uniform([tf.shape(x)[0], 1, 1, 1]) * 2.0) + mean


def rand_contrast(x):
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (tf.random.uniform([tf.shape(x)[0], 1, 1, 1]) + 0.5) + mean


def rand_translation(x, ratio=0.125):
    """Shifts each image by up to ratio*size pixels, filling with zeros; static shapes (XLA-friendly)."""
    height, width = x.shape[1], x.shape[2]
    batch = tf.shape(x)[0]
    shift_h, shift_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ty = tf.random.uniform([batch, 1], -shift_h, shift_h + 1, dtype=tf.int32)
    tx = tf.random.uniform([batch, 1], -shift_w, shift_w + 1, dtype=tf.int32)
    padded = tf.pad(x, [[0, 0], [shift_h, shift_h], [shift_w, shift_w], [0, 0]])
    rows = tf.range(height)[None, :] + shift_h + ty
    cols = tf.range(width)[None, :] + shift_w + tx
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def rand_cutout(x, ratio=0.5):
    height, width = x.shape[1], x.shape[2]
    batch = tf.shape(x)[0]
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    cy = tf.random.uniform([batch, 1, 1], 0, height + (1 - cut_h % 2), dtype=tf.int32)
    cx = tf.random.uniform([batch, 1, 1], 0, width + (1 - cut_w % 2), dtype=tf.int32)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (tf.abs(rows - cy) < cut_h // 2 + 1) & (tf.abs(cols - cx) < cut_w // 2 + 1)
    # an inside test with "< half+1" around a random centre gives the paper's cut_h x cut_w box (clipped at borders)
    return x * tf.cast(~inside, x.dtype)[..., None]


AUGMENTS = {
    # The paper's "color" also scales saturation; here that is a separate op ("saturation"), off by default,
    # because D's colour classifier is trained on augmented reals and a desaturated "Red" teaches it wrong colours.
    "color": (rand_brightness, rand_contrast),
    "saturation": (rand_saturation,),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
}


def parse_policy(policy: str):
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [n for n in names if n not in AUGMENTS]
    if unknown:
        raise ValueError(f"Unknown DiffAugment op(s) {unknown}; choose from {sorted(AUGMENTS)} (comma-separated)")
    return names


def diff_augment(x, policy: str = "color,translation"):
    """Applies the comma-separated DiffAugment ops ("color", "saturation", "translation", "cutout") to a batch."""
    for name in parse_policy(policy):
        for fn in AUGMENTS[name]:
            x = fn(x)
    return x


def augment_example(example, seed=None, max_scale: float = 1.1, brightness: float = 0.05):
    """tf.data map function on a transformed example dict (or a bare image [R,R,3] in [-1, 1]).

    Random horizontal flip, a random zoom-in crop of up to `max_scale`, and a small brightness shift.
    Products are centred on white, so the zoom keeps them in frame; no hue/saturation change (labels are colours).
    Every draw is stateless from `seed` (two integers; `make_dataset` gives each example its position in the run),
    so an example's augmentation does not depend on which of a parallel map's threads reached it first: a seeded
    run reads the same augmented images every time. Without a seed one is drawn (statefully) for the example.
    """
    is_dict = isinstance(example, dict)
    image = example["image"] if is_dict else example
    size = image.shape[0]
    if seed is None:
        seed = tf.random.uniform([2], 0, 2**31 - 1, dtype=tf.int64)
    flip_seed, scale_seed, crop_seed, brightness_seed = tf.unstack(
        tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4))
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    scale = tf.random.stateless_uniform([], scale_seed, 1.0, max_scale)
    scaled = tf.cast(tf.math.ceil(scale * size), tf.int32)
    image = tf.image.resize(image, [scaled, scaled], method="bilinear")
    image = tf.image.stateless_random_crop(image, [size, size, 3], crop_seed)
    shift = tf.random.stateless_uniform([], brightness_seed, -brightness, brightness)
    image = tf.clip_by_value(image + shift * 2.0, -1.0, 1.0)
    if is_dict:
        return {**example, "image": image}
    return image
