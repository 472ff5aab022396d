"""The condition-blind generators the release gate is tested against really ignore their condition."""
import numpy as np


def test_reference_generators_ignore_the_condition():
    from models.config import ModelConfig
    from models.reference_generators import KINDS, condition_blind_generator

    cfg = ModelConfig(resolution=8, z_dim=16)
    sizes = {"articleType": 4, "baseColour": 3}
    z = np.random.default_rng(0).normal(size=(5, 16)).astype("float32")

    def images(kind, article, colour):
        inputs = {"z": z, "articleType": np.eye(4, dtype="float32")[[article] * 5],
                  "baseColour": np.eye(3, dtype="float32")[[colour] * 5]}
        return np.asarray(condition_blind_generator(cfg, sizes, scale=KINDS[kind])(inputs))

    noise = images("noise", 0, 0)
    assert noise.shape == (5, 8, 8, 3) and np.abs(noise).max() <= 1.0
    assert np.array_equal(noise, images("noise", 3, 2))  # another condition, the same images
    assert noise.std() > 0.3 and np.abs(noise[0] - noise[1]).mean() > 0.1  # z still varies them
    assert np.array_equal(images("gray", 1, 1), np.zeros_like(noise))  # tanh(0): constant mid-gray
