"""The baseline conditional DCGAN's two networks (keras.io's conditional_gan example), Keras only.

Kept apart from the TensorFlow training step (models/baseline_dcgan.py) so that bench/train_throughput_jax.py can
build the same networks on a machine without TensorFlow.
"""
import math
from typing import Mapping

import keras
from keras import layers

from models.config import ModelConfig


def _num_classes(cfg, vocab_sizes):
    return sum(int(vocab_sizes[a]) for a in cfg.condition_attributes)


def build_baseline_generator(cfg: ModelConfig, vocab_sizes: Mapping[str, int]) -> keras.Model:
    n_up = int(math.log2(cfg.resolution)) - 2
    width = cfg.gen_channels
    inputs = keras.Input((cfg.z_dim + _num_classes(cfg, vocab_sizes),), name="z_and_labels")
    h = layers.Dense(4 * 4 * width)(inputs)
    h = layers.LeakyReLU(0.2)(h)
    h = layers.Reshape((4, 4, width))(h)
    for i in range(n_up):
        h = layers.Conv2DTranspose(max(width // 2 ** (i + 1), 16), 4, strides=2, padding="same")(h)
        h = layers.LeakyReLU(0.2)(h)
    out = layers.Conv2D(3, 3, padding="same", activation="tanh")(h)
    return keras.Model(inputs, out, name="baseline_generator")


def build_baseline_discriminator(cfg: ModelConfig, vocab_sizes: Mapping[str, int]) -> keras.Model:
    res = cfg.resolution
    inputs = keras.Input((res, res, 3 + _num_classes(cfg, vocab_sizes)), name="image_and_labels")
    h = inputs
    for i in range(int(math.log2(res)) - 2):
        h = layers.Conv2D(min(cfg.disc_channels * 2 ** i, 8 * cfg.disc_channels), 3, strides=2, padding="same")(h)
        h = layers.LeakyReLU(0.2)(h)
    h = layers.GlobalMaxPooling2D()(h)
    return keras.Model(inputs, layers.Dense(1)(h), name="baseline_discriminator")
