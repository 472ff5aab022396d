"""bench/step_flops.py: the FLOPs count the throughput benchmark reports next to images/s."""
import keras
import pytest
import tensorflow as tf

from bench.step_flops import train_step_flops, vitrine_step_flops
from pipeline.presets import get_preset


class _DenseStep(keras.Model):
    """One Dense layer (no bias) on flattened images, squared-output loss, plain SGD."""

    def __init__(self, units):
        super().__init__()
        self.dense = keras.layers.Dense(units, use_bias=False)
        self.opt = keras.optimizers.SGD(0.1)

    def train_step(self, data):
        x = tf.reshape(data["image"], [tf.shape(data["image"])[0], -1])
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.dense(x)))
        grads = tape.gradient(loss, self.dense.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.dense.trainable_variables))
        return {"loss": loss}


def test_dense_step_counts_forward_and_weight_gradient_matmuls():
    batch, res, units = 8, 4, 10
    model = _DenseStep(units)
    model.dense.build((None, res * res * 3))
    model.opt.build(model.dense.trainable_variables)
    matmul = 2 * batch * res * res * 3 * units  # one [B, 48] x [48, 10] product
    flops = train_step_flops(model, batch, res, {"articleType": 3})
    # forward product + weight-gradient product, plus a few element-wise ops (loss, its gradient, SGD update)
    assert 2 * matmul <= flops < 2 * matmul + 3000


def test_vitrine_step_work_is_per_image_and_includes_amortised_r1():
    cfg = get_preset("tiny").model
    vocab = {"articleType": 4, "baseColour": 5}
    one = vitrine_step_flops(cfg, vocab)
    two = vitrine_step_flops(cfg.replace(batch_size=2 * cfg.batch_size), vocab)
    assert one["r1_per_due_step"] > 0
    assert one["per_step"] == pytest.approx(two["per_step"] / 2, rel=0.02)  # every term scales with the batch
    assert one["per_image"] == pytest.approx(one["per_step"] / cfg.batch_size)
    # R1 (a D forward and double backward on the reals) is a sizeable share of a step in which it is due
    assert 0.05 < one["r1_per_due_step"] / one["per_step"] < 1.0
