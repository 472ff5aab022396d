"""Vitrine networks (Keras 3 functional models): generator G(z, c), editor E(x, c, λ), discriminator D(x, c).

Conditions are weights over each attribute's vocabulary, `[B, V_attr]` float32: a one-hot for a plain value,
a weighted mix for "70 % Red + 30 % White", all zeros for "keep as is" (editor). See ARCHITECTURE.md §Networks.
"""
import contextlib
import math
from typing import Dict, Mapping

import keras
from keras import layers

from models.config import ModelConfig
from models.layers import FiLM, BlendEdit, GroupNorm, MinibatchStddev, Projection, SpectralConv2D, WeightSum
from models.precision import policy_name

RESERVED_INPUT_NAMES = ("z", "image", "strength", "background", "adv", "mask")


def twin_output(attr: str) -> str:
    """Name of the discriminator's TAC-GAN twin-classifier output for an attribute."""
    return f"{attr}_twin"


def _check(cfg: ModelConfig, vocab_sizes: Mapping[str, int]) -> None:
    res = cfg.resolution
    if res < 16 or res > 256 or res & (res - 1):
        raise ValueError(f"resolution must be a power of two in 16..256, got {res}")
    for attr in cfg.condition_attributes:
        if attr not in vocab_sizes:
            raise ValueError(f"vocab_sizes has no entry for condition attribute {attr!r}; got {sorted(vocab_sizes)}")
        if attr in RESERVED_INPUT_NAMES:
            raise ValueError(f"attribute name {attr!r} clashes with a network input/output name {RESERVED_INPUT_NAMES}")
        if twin_output(attr) in cfg.condition_attributes:
            raise ValueError(f"attribute {twin_output(attr)!r} clashes with the twin-classifier output of {attr!r}")
        if int(vocab_sizes[attr]) < 1:
            raise ValueError(f"vocab size of {attr!r} must be >= 1, got {vocab_sizes[attr]}")


@contextlib.contextmanager
def _policy(cfg: ModelConfig):
    """Builds layers under mixed_float16 or mixed_bfloat16 when cfg.mixed_precision (models/precision.py); outputs
    are cast back to float32."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy_name(cfg))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _condition_inputs(cfg, vocab_sizes) -> Dict[str, keras.KerasTensor]:
    return {a: keras.Input((int(vocab_sizes[a]),), dtype="float32", name=a) for a in cfg.condition_attributes}


def build_condition_encoder(cfg: ModelConfig, vocab_sizes: Mapping[str, int], name="condition_encoder") -> keras.Model:
    """{attr: [B, V]} -> [B, n_attr * (embed_dim + 1)]: per-attribute weighted embedding + weight sum.

    Linear in the weights (a Dense without bias == weighted average of embedding rows), so a 70/30 mix
    embeds as the 70/30 interpolation of the two values; the networks' fusion MLP comes after it.
    """
    _check(cfg, vocab_sizes)
    inputs = _condition_inputs(cfg, vocab_sizes)
    parts = []
    for attr in cfg.condition_attributes:
        parts.append(layers.Dense(cfg.embed_dim, use_bias=False, dtype="float32", name=f"embed_{attr}")(inputs[attr]))
        parts.append(WeightSum(dtype="float32", name=f"present_{attr}")(inputs[attr]))
    out = parts[0] if len(parts) == 1 else layers.Concatenate(dtype="float32", name="embeddings")(parts)
    return keras.Model(inputs, out, name=name)


def _fuse(embedding, width, prefix):
    h = layers.Dense(width, name=f"{prefix}_fuse1")(embedding)
    h = layers.LeakyReLU(0.2)(h)
    h = layers.Dense(width, name=f"{prefix}_fuse2")(h)
    return layers.LeakyReLU(0.2)(h)


def _norm(channels, name):
    groups = math.gcd(channels, 8)
    return GroupNorm(groups, epsilon=1e-5, name=name)


def _cond_block(x, condition, channels, name, resample=None):
    """Residual block, each conv followed by group norm + FiLM(condition) + LeakyReLU.

    Group norm (not batch norm) keeps every image independent of its batch-mates, which serving relies on.
    """
    if resample == "up":
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up")(x)
    shortcut = x
    if shortcut.shape[-1] != channels:
        shortcut = layers.Conv2D(channels, 1, name=f"{name}_skip")(shortcut)
    h = x
    for i in (1, 2):
        h = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv{i}")(h)
        h = _norm(channels, f"{name}_norm{i}")(h)
        h = FiLM(channels, name=f"{name}_film{i}")([h, condition])
        h = layers.LeakyReLU(0.2)(h)
    out = layers.Add(name=f"{name}_add")([shortcut, h])
    if resample == "down":
        out = layers.AveragePooling2D(2, name=f"{name}_down")(out)
    return out


def build_generator(cfg: ModelConfig, vocab_sizes: Mapping[str, int], name="generator") -> keras.Model:
    """{"z": [B, z_dim], attr: [B, V]} -> image [B, R, R, 3] in [-1, 1] (tanh, float32)."""
    _check(cfg, vocab_sizes)
    with _policy(cfg):
        z = keras.Input((cfg.z_dim,), dtype="float32", name="z")
        conditions = _condition_inputs(cfg, vocab_sizes)
        embedding = build_condition_encoder(cfg, vocab_sizes)(conditions)
        width = cfg.gen_channels
        condition = _fuse(embedding, width, "g")
        z_and_condition = layers.Concatenate(name="g_z_and_condition")([z, condition])
        h = layers.Dense(4 * 4 * width, name="g_from_z")(z_and_condition)
        h = layers.Reshape((4, 4, width))(h)
        block_condition = z_and_condition if cfg.z_to_blocks else condition
        n_up = int(math.log2(cfg.resolution)) - 2
        for i in range(n_up):
            channels = max(width // 2 ** (i + 1), 16)
            h = _cond_block(h, block_condition, channels, f"g_block{i}", resample="up")
        h = _norm(h.shape[-1], "g_out_norm")(h)
        h = layers.LeakyReLU(0.2)(h)
        h = layers.Conv2D(3, 3, padding="same", name="g_to_rgb")(h)
        image = layers.Activation("tanh", dtype="float32", name="image")(h)
    return keras.Model({"z": z, **conditions}, image, name=name)


def build_editor(cfg: ModelConfig, vocab_sizes: Mapping[str, int], name="editor") -> keras.Model:
    """{"image": [B,R,R,3], attr: [B,V] (zeros = keep), "strength": [B,1], "background": [B,1]}
    -> {"image", "mask": [B,R,R,1]}.

    `background` 1 asks for the background cleaned to white, 0 keeps it (models/background.py); it joins the
    attribute embeddings in the condition vector that modulates every block, so one network does all three edits.
    """
    _check(cfg, vocab_sizes)
    res = cfg.resolution
    with _policy(cfg):
        image = keras.Input((res, res, 3), dtype="float32", name="image")
        strength = keras.Input((1,), dtype="float32", name="strength")
        background = keras.Input((1,), dtype="float32", name="background")
        conditions = _condition_inputs(cfg, vocab_sizes)
        embedding = build_condition_encoder(cfg, vocab_sizes)(conditions)
        embedding = layers.Concatenate(dtype="float32", name="e_condition_and_background")([embedding, background])
        width = cfg.editor_channels
        n_down = 2 if res <= 32 else 3
        condition = _fuse(embedding, width * 2 ** n_down, "e")
        h = layers.Conv2D(width, 3, padding="same", name="e_from_rgb")(image)
        skips = []
        for i in range(n_down):
            h = _cond_block(h, condition, width * 2 ** i, f"e_down{i}")
            skips.append(h)
            h = layers.AveragePooling2D(2, name=f"e_pool{i}")(h)
        bottom = width * 2 ** n_down
        h = _cond_block(h, condition, bottom, "e_mid0")
        h = _cond_block(h, condition, bottom, "e_mid1")
        for i in reversed(range(n_down)):
            h = layers.UpSampling2D(2, interpolation="nearest", name=f"e_up{i}")(h)
            h = layers.Concatenate(name=f"e_cat{i}")([h, skips[i]])
            h = _cond_block(h, condition, width * 2 ** i, f"e_upblock{i}")
        h = layers.LeakyReLU(0.2)(h)
        delta = layers.Conv2D(3, 3, padding="same", name="e_to_delta")(h)
        delta = layers.Activation("tanh", dtype="float32", name="delta")(delta)
        # The keep-mask starts near 0 (cfg.editor_mask_init_logit -3, m ~ 0.05, small kernel): the editor begins by
        # generating and learns what to keep. Starting at m ~ 0.5 or higher without the mask cap, the cycle loss
        # drove m to a saturated 1.0 (identity edits, vanishing gradient) within ~60 steps on the catalog; measured
        # A/B in the issue 3 note.
        mask = layers.Conv2D(1, 3, padding="same", name="e_to_mask",
                             kernel_initializer=keras.initializers.VarianceScaling(0.01, "fan_avg", "uniform"),
                             bias_initializer=keras.initializers.Constant(cfg.editor_mask_init_logit))(h)
        mask = layers.Activation("sigmoid", dtype="float32", name="mask")(mask)
        out = BlendEdit(dtype="float32", name="edited")([image, delta, mask, strength])
    return keras.Model({"image": image, **conditions, "strength": strength, "background": background},
                       {"image": out, "mask": mask}, name=name)


def build_discriminator(cfg: ModelConfig, vocab_sizes: Mapping[str, int], name="discriminator") -> keras.Model:
    """{"image": [B,R,R,3], attr: [B,V]} -> {"adv": [B,1], attr: logits [B,V]} (float32).

    adv = linear(h) + Σ_attr <embed_attr(c_attr), h> (projection discriminator); the per-attribute logits
    are an auxiliary classifier trained on real images (AC-GAN style), used by G and E as a control loss.
    With cfg.twin_cls_weight > 0 there is also a twin classifier per attribute (output `twin_output(attr)`)
    trained on G's samples (TAC-GAN). With cfg.d_spectral_norm every conv is spectrally normalised (SNGAN);
    the linear heads are not, so the projection and the classifiers keep their scale.
    """
    _check(cfg, vocab_sizes)
    res = cfg.resolution
    with _policy(cfg):
        image = keras.Input((res, res, 3), dtype="float32", name="image")
        conditions = _condition_inputs(cfg, vocab_sizes)
        width = cfg.disc_channels
        conv = SpectralConv2D if cfg.d_spectral_norm else layers.Conv2D  # every conv of D, or none
        h = conv(width, 3, padding="same", name="d_from_rgb")(image)
        h = layers.LeakyReLU(0.2)(h)
        n_down = int(math.log2(res)) - 2
        for i in range(n_down):
            # widths double per block up to 4x: the D forward runs on 3 batches and twice (R1) per step
            channels = min(width * 2 ** i, 4 * width)
            skip = conv(channels, 1, use_bias=False, name=f"d_block{i}_skip")(h)
            skip = layers.AveragePooling2D(2)(skip)
            r = conv(channels, 3, padding="same", name=f"d_block{i}_conv1")(h)
            r = layers.LeakyReLU(0.2)(r)
            r = conv(channels, 3, padding="same", name=f"d_block{i}_conv2")(r)
            r = layers.LeakyReLU(0.2)(r)
            r = layers.AveragePooling2D(2)(r)
            h = layers.Add()([skip, r])
        channels = h.shape[-1]
        if cfg.minibatch_std_group > 0:
            h = MinibatchStddev(cfg.minibatch_std_group, name="d_minibatch_std")(h)
        h = conv(channels, 3, padding="same", name="d_final_conv")(h)
        h = layers.LeakyReLU(0.2)(h)
        h = layers.GlobalAveragePooling2D(dtype="float32", name="d_pool")(h)
        h = layers.Activation("linear", dtype="float32")(h)
        features = h.shape[-1]
        terms = [layers.Dense(1, dtype="float32", name="d_linear")(h)]
        outputs = {}
        for attr in cfg.condition_attributes:
            terms.append(Projection(features, dtype="float32", name=f"d_project_{attr}")([conditions[attr], h]))
            outputs[attr] = layers.Dense(int(vocab_sizes[attr]), dtype="float32", name=f"d_classify_{attr}")(h)
            if cfg.twin_cls_weight > 0:  # TAC-GAN's twin: learns the conditions of G's samples
                outputs[twin_output(attr)] = layers.Dense(int(vocab_sizes[attr]), dtype="float32",
                                                          name=f"d_twin_classify_{attr}")(h)
        adv = terms[0] if len(terms) == 1 else layers.Add(dtype="float32", name="adv")(terms)
    return keras.Model({"image": image, **conditions}, {"adv": adv, **outputs}, name=name)
