"""The judge's network, with no TensorFlow import: the Trainer (models/judge.py) builds it with the TensorFlow
backend, and bench/jax_monitor.py builds the same network with JAX on machines without TensorFlow and loads the
pipeline judge's weights into it."""
from typing import Dict

import keras
from keras import layers

from models.config import ModelConfig


def build_judge(cfg: ModelConfig, vocab_sizes: Dict[str, int], name: str = "judge") -> keras.Model:
    """Small conv classifier: shared trunk -> features -> one softmax head per attribute."""
    image = keras.Input((cfg.resolution, cfg.resolution, 3), name="image")
    x = image
    channels = cfg.judge_channels
    size = cfg.resolution
    while size > 4:
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(channels, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        channels = min(channels * 2, 256)
        size //= 2
    features = layers.GlobalAveragePooling2D(name="features")(x)
    outputs = {"features": features}
    dropped = layers.Dropout(0.3)(features)
    for attribute, size in vocab_sizes.items():
        outputs[f"{attribute}_logits"] = layers.Dense(size, name=f"{attribute}_logits")(dropped)
    return keras.Model(image, outputs, name=name)
