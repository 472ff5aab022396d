"""Baseline: a plain conditional DCGAN after keras.io's conditional_gan example, for throughput comparison.

Labels: one-hot per attribute, concatenated to z for G and tiled as extra input channels for D.
Non-saturating BCE losses, no augmentation, no editor, no EMA, no R1.
"""
from typing import Mapping

import keras
import tensorflow as tf

from models.baseline_networks import build_baseline_discriminator, build_baseline_generator
from models.config import ModelConfig
from models.gan import one_hot_conditions


class ConditionalDCGAN(keras.Model):
    def __init__(self, cfg: ModelConfig, vocab_sizes: Mapping[str, int], **kwargs):
        super().__init__(**kwargs)
        self.cfg = cfg
        self.vocab_sizes = {a: int(vocab_sizes[a]) for a in cfg.condition_attributes}
        self.generator = build_baseline_generator(cfg, vocab_sizes)
        self.discriminator = build_baseline_discriminator(cfg, vocab_sizes)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_tracker = keras.metrics.Mean(name="d_loss")
        self.g_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    def compile(self, **kwargs):
        kwargs.setdefault("jit_compile", self.cfg.jit_compile)
        super().compile(**kwargs)
        self.d_optimizer = keras.optimizers.Adam(self.cfg.d_lr, beta_1=0.5)
        self.g_optimizer = keras.optimizers.Adam(self.cfg.g_lr, beta_1=0.5)

    @property
    def metrics(self):
        return [self.d_tracker, self.g_tracker]

    def train_step(self, data):
        real = tf.cast(data["image"], tf.float32)
        batch = tf.shape(real)[0]
        labels = tf.concat(list(one_hot_conditions(data, self.vocab_sizes).values()), axis=-1)
        res = self.cfg.resolution
        tiled = tf.tile(labels[:, None, None, :], [1, res, res, 1])
        z = tf.random.normal([batch, self.cfg.z_dim])
        fake = self.generator(tf.concat([z, labels], -1))
        images = tf.concat([tf.concat([fake, tiled], -1), tf.concat([real, tiled], -1)], 0)
        targets = tf.concat([tf.ones([batch, 1]), tf.zeros([batch, 1])], 0)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(targets, self.discriminator(images))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        z = tf.random.normal([batch, self.cfg.z_dim])
        with tf.GradientTape() as tape:
            fake = self.generator(tf.concat([z, labels], -1))
            g_loss = self.loss_fn(tf.zeros([batch, 1]), self.discriminator(tf.concat([fake, tiled], -1)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_tracker.update_state(d_loss)
        self.g_tracker.update_state(g_loss)
        return {"d_loss": self.d_tracker.result(), "g_loss": self.g_tracker.result()}
