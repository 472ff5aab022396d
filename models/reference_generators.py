"""Condition-blind generators the release gate must reject (tests/test_evaluator_gate.py, bench/judge_spread.py).

They honour the serving contract (same inputs, same export, a trained editor) but their image ignores the
condition: a fixed random projection of z through tanh ("noise"), or, with scale 0, a constant mid-gray image.
"""
import os
from typing import Dict

import numpy as np

from models.config import ModelConfig

KINDS = {"noise": 1.5, "gray": 0.0}  # kind -> projection scale


def condition_blind_generator(cfg: ModelConfig, vocab_sizes: Dict[str, int], scale: float = 1.5, seed: int = 0):
    """A Keras generator with the trained generator's inputs ({"z", <attribute>: one-hot}) whose condition rows
    of the projection are zero."""
    import keras
    from keras import layers

    z = keras.Input((cfg.z_dim,), name="z")
    conditions = {a: keras.Input((v,), name=a) for a, v in vocab_sizes.items()}
    size = cfg.resolution * cfg.resolution * 3
    h = layers.Concatenate()([z] + list(conditions.values()))
    dense = layers.Dense(size, use_bias=False, trainable=False, name="noise_projection")
    h = dense(h)
    image = layers.Activation("tanh")(layers.Reshape((cfg.resolution, cfg.resolution, 3))(h))
    model = keras.Model({"z": z, **conditions}, image, name="condition_blind_generator")
    kernel = np.zeros((cfg.z_dim + sum(vocab_sizes.values()), size), "float32")
    rng = np.random.default_rng(seed)
    kernel[:cfg.z_dim] = rng.normal(0.0, scale / np.sqrt(cfg.z_dim), (cfg.z_dim, size))  # condition rows stay 0
    dense.set_weights([kernel])
    return model


def load_trained_network(cfg: ModelConfig, vocab_sizes: Dict[str, int], model_dir: str, name: str):
    """One network ("ema_generator", "generator", "editor") of a model the Trainer exported; `model_dir` holds
    Format-Serving."""
    from models.networks import build_editor, build_generator
    from models.training import KERAS_WEIGHTS_DIR

    network = (build_editor if name == "editor" else build_generator)(cfg, vocab_sizes)
    network.load_weights(os.path.join(model_dir, "Format-Serving", KERAS_WEIGHTS_DIR, f"{name}.weights.h5"))
    return network


def export_model(out_dir: str, generator, editor, cfg: ModelConfig, vocabulary_files: Dict[str, str]) -> str:
    """Exports like the Trainer does; returns the Model artifact folder (the one containing Format-Serving)."""
    from models.export import export_saved_model

    export_saved_model(os.path.join(out_dir, "Format-Serving"), generator, editor, vocabulary_files,
                       cfg.resolution, cfg.z_dim)
    return out_dir
