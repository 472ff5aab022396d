"""Small custom Keras 3 layers shared by the Vitrine networks.

Each layer owns its sub-layers (created in `__init__`, never in `call`) and has a `get_config`, so the
networks can be cloned (EMA generator) and saved inside a `tf.Module`.
"""
import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="vitrine")
class FiLM(layers.Layer):
    """Feature-wise linear modulation: x * (1 + gamma(c)) + beta(c).

    gamma and beta start at zero, so a freshly built block is the identity on its normalised input and
    the condition's influence is learned rather than imposed at initialisation.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.to_scale = layers.Dense(channels, kernel_initializer="zeros", name="scale")
        self.to_shift = layers.Dense(channels, kernel_initializer="zeros", name="shift")

    def build(self, input_shape):
        _, cond_shape = input_shape
        self.to_scale.build(cond_shape)
        self.to_shift.build(cond_shape)

    def call(self, inputs):
        x, condition = inputs
        scale = ops.cast(self.to_scale(condition), x.dtype)[:, None, None, :]
        shift = ops.cast(self.to_shift(condition), x.dtype)[:, None, None, :]
        return x * (1.0 + scale) + shift

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="vitrine")
class WeightSum(layers.Layer):
    """Sum of a weights vector over its vocabulary, [B, V] -> [B, 1].

    1 for a plain value or a normalised mix, 0 for "keep as is": lets the networks tell "keep" from a value
    while staying linear in the weights (so a mix's embedding is the mix of embeddings).
    """

    def call(self, weights):
        return ops.sum(weights, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


@keras.saving.register_keras_serializable(package="vitrine")
class Projection(layers.Layer):
    """Projection-discriminator term <embed(c), h> for one attribute, [B, V], [B, F] -> [B, 1]."""

    def __init__(self, features, **kwargs):
        super().__init__(**kwargs)
        self.features = features
        self.embed = layers.Dense(features, use_bias=False, name="embed")

    def build(self, input_shape):
        cond_shape, _ = input_shape
        self.embed.build(cond_shape)

    def call(self, inputs):
        condition, features = inputs
        embedded = ops.cast(self.embed(condition), features.dtype)
        return ops.sum(embedded * features, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], 1)

    def get_config(self):
        return {**super().get_config(), "features": self.features}


@keras.saving.register_keras_serializable(package="vitrine")
class BlendEdit(layers.Layer):
    """x' = m*x + (1-m)*delta; output = x + strength*(x' - x). strength = 0 returns x bit for bit."""

    def call(self, inputs):
        image, delta, mask, strength = inputs
        edited = mask * image + (1.0 - mask) * delta
        return image + strength[:, :, None, None] * (edited - image)

    def compute_output_shape(self, input_shape):
        return input_shape[0]
