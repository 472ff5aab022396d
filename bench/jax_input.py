"""The training input for the JAX port (bench/train_gan_jax.py): the Transform's training images as arrays, shuffled
batches, and models/augment.py `augment_example` ported to JAX. No Keras here, so the test suite can check the
port against TensorFlow's ops in its own process.

The arrays come from bench/export_train_arrays.py (TensorFlow, where the pipeline ran): every training record of a
Transform output, images as uint8 (the Transform's [-1, 1] floats rounded to 1/127.5) and one id per attribute.
"""
import json
from typing import Dict, Iterator

import jax
import jax.numpy as jnp
import numpy as np

MAX_SCALE, BRIGHTNESS = 1.1, 0.05  # augment_example's defaults


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> uint8 (the nearest of 256 levels)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def to_float(images):
    """uint8 -> [-1, 1] float32 (jnp or np)."""
    return images.astype(jnp.float32) / 127.5 - 1.0


def load_arrays(path: str):
    """-> (images uint8 [N, R, R, 3], {attribute: int32 ids [N]}, metadata dict) from an export_train_arrays file."""
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        ids = {a: data[f"{a}_id"].astype(np.int32) for a in meta["attributes"]}
        return data["images"], ids, meta


def batch_indices(count: int, batch: int, seed: int) -> Iterator[np.ndarray]:
    """Endless batches of record indices: a fresh permutation each epoch, the last partial batch dropped (as the
    TF input's `shuffle(...).repeat()` + `batch(drop_remainder=True)` reads each record about once an epoch)."""
    if count < batch:
        raise ValueError(f"{count} records cannot fill one batch of {batch}")
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(count)
        for start in range(0, count - batch + 1, batch):
            yield order[start:start + batch]


def _bilinear_rows(images, coords):
    """Samples rows (axis 1) of images [B, H, W, C] at float coords [B, K], TF's half-pixel bilinear with edge
    clamping: the row below 0 or past the last reads the edge row."""
    size = images.shape[1]
    low = jnp.floor(coords)
    frac = (coords - low)[:, :, None, None]
    i0 = jnp.clip(low, 0, size - 1).astype(jnp.int32)
    i1 = jnp.clip(low + 1, 0, size - 1).astype(jnp.int32)
    top = jnp.take_along_axis(images, i0[:, :, None, None], axis=1)
    bottom = jnp.take_along_axis(images, i1[:, :, None, None], axis=1)
    return top + (bottom - top) * frac


def zoom_crop(images, scaled, offset_y, offset_x):
    """tf.image.resize(image, [scaled, scaled], "bilinear") then the size x size crop at (offset_y, offset_x), for
    each image of a batch at once: `scaled`, `offset_*` are int arrays [B]. Output pixel i reads the source at
    (offset + i + 0.5) * size / scaled - 0.5 (half-pixel centres, as TF 2's resize)."""
    size = images.shape[1]
    ratio = size / scaled.astype(jnp.float32)
    grid = jnp.arange(size, dtype=jnp.float32)[None, :] + 0.5
    rows = (offset_y[:, None] + grid) * ratio[:, None] - 0.5
    cols = (offset_x[:, None] + grid) * ratio[:, None] - 0.5
    out = _bilinear_rows(images, rows)
    out = _bilinear_rows(jnp.swapaxes(out, 1, 2), cols)
    return jnp.swapaxes(out, 1, 2)


def augment_batch(key, images, max_scale: float = MAX_SCALE, brightness: float = BRIGHTNESS):
    """`augment_example` on a batch [B, R, R, 3] in [-1, 1]: a random horizontal flip, a zoom-in crop of up to
    `max_scale` (resize to ceil(scale * R), random R x R crop) and a brightness shift of up to +-`brightness`
    (times 2 in [-1, 1] units), clipped. Same distributions as the TF op; JAX's random stream, not TF's."""
    batch, size = images.shape[0], images.shape[1]
    k_flip, k_scale, k_y, k_x, k_bright = jax.random.split(key, 5)
    flip = jax.random.uniform(k_flip, (batch, 1, 1, 1)) < 0.5
    images = jnp.where(flip, images[:, :, ::-1, :], images)
    scale = jax.random.uniform(k_scale, (batch,), minval=1.0, maxval=max_scale)
    scaled = jnp.ceil(scale * size).astype(jnp.int32)
    offset_y = jax.random.randint(k_y, (batch,), 0, scaled - size + 1)
    offset_x = jax.random.randint(k_x, (batch,), 0, scaled - size + 1)
    images = zoom_crop(images, scaled, offset_y, offset_x)
    shift = jax.random.uniform(k_bright, (batch, 1, 1, 1), minval=-brightness, maxval=brightness)
    return jnp.clip(images + shift * 2.0, -1.0, 1.0)


def make_batch(key, images_u8, ids: Dict[str, jnp.ndarray], indices):
    """One augmented training batch from device-resident arrays: {"image": [B, R, R, 3] float32, attribute: ids}."""
    images = augment_batch(key, to_float(images_u8[indices]))
    return {"image": images, **{a: v[indices] for a, v in ids.items()}}


def probe_inputs(resolution: int, z_dim: int, vocab: Dict[str, int], count: int = 4, seed: int = 123):
    """Fixed numpy inputs for the EMA generator and editor: the same on both sides of a weights hand-over, so a test
    can compare what the JAX-trained networks output with what the TF-built networks loaded with their weights do."""
    rng = np.random.default_rng(seed)
    conditions = {a: np.eye(v, dtype=np.float32)[np.arange(count) % v] for a, v in vocab.items()}
    generator = {"z": rng.standard_normal((count, z_dim)).astype(np.float32), **conditions}
    editor = {"image": rng.uniform(-1.0, 1.0, (count, resolution, resolution, 3)).astype(np.float32),
              **{a: c[::-1].copy() for a, c in conditions.items()},
              "strength": np.ones((count, 1), np.float32), "background": np.zeros((count, 1), np.float32)}
    return generator, editor
