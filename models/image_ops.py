"""Image ops shared by Transform, the exported serving graph and the evaluator (TensorFlow only, no Keras/TFT)."""
import tensorflow as tf


def pad_to_square(image: tf.Tensor, fill: float = 255.0) -> tf.Tensor:
    """Pads an HxWx3 float image to a centred square with `fill` (white): products are never stretched."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.maximum(height, width)
    top = (side - height) // 2
    left = (side - width) // 2
    padded = tf.pad(image - fill, [[top, side - height - top], [left, side - width - left], [0, 0]])
    return padded + fill


def decode_and_resize(encoded: tf.Tensor, resolution: int) -> tf.Tensor:
    """Encoded image bytes (scalar string) -> float32 [resolution, resolution, 3] in [-1, 1]."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image = tf.cast(image, tf.float32)
    image = pad_to_square(image)
    image = tf.image.resize(image, [resolution, resolution], method="area", antialias=True)
    image = tf.clip_by_value(image, 0.0, 255.0)
    return image / 127.5 - 1.0


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] float images -> uint8."""
    images = tf.cast(images, tf.float32)
    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def encode_png_batch(images_uint8: tf.Tensor) -> tf.Tensor:
    return tf.map_fn(tf.io.encode_png, images_uint8, fn_output_signature=tf.TensorSpec([], tf.string))
