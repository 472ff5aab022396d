"""Mixed precision's dtype (models/precision.py): float16 needs a GPU and loss scaling; bfloat16 needs no scaling
and also runs on CPUs with bfloat16 instructions under oneDNN's kernels."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from models import networks, precision
from models.config import ModelConfig

VOCAB = {"articleType": 5, "baseColour": 4}
CFG = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8, editor_channels=8,
                  batch_size=4, r1_every=2)
AVX2 = ("avx2", "fma")
ZEN4 = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16")
SAPPHIRE_RAPIDS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
needs_bf16_cpu = pytest.mark.skipif(not precision.bfloat16_on_this_cpu() or bool(tf.config.list_logical_devices("GPU")),
                                    reason="trains in bfloat16 on a CPU with AVX512_BF16 or AMX under oneDNN only")


def test_the_policy_and_loss_scaling_follow_the_dtype():
    assert precision.policy_name(CFG) == "float32" and not precision.needs_loss_scaling(CFG)
    half = CFG.replace(mixed_precision=True)
    assert precision.policy_name(half) == "mixed_float16" and precision.needs_loss_scaling(half)
    brain = half.replace(mixed_precision_dtype="bfloat16")
    assert precision.policy_name(brain) == "mixed_bfloat16" and not precision.needs_loss_scaling(brain)
    with pytest.raises(ValueError, match="mixed_precision_dtype must be 'float16' or 'bfloat16', got 'int8'"):
        CFG.replace(mixed_precision_dtype="int8")
    assert ModelConfig.from_dict(brain.to_dict()) == brain  # it travels through TFX's custom_config


@pytest.mark.parametrize("extensions, onednn, kept, says", [
    (ZEN4, True, True, None),
    (SAPPHIRE_RAPIDS, True, True, None),
    (AVX2, True, False, "this CPU has neither avx512_bf16 nor amx_bf16"),
    (None, True, False, "this CPU has neither"),
    (ZEN4, False, False, "oneDNN's kernels are off"),
])
def test_bfloat16_stays_on_only_on_a_cpu_that_computes_in_it(extensions, onednn, kept, says):
    cfg = CFG.replace(mixed_precision=True, mixed_precision_dtype="bfloat16")
    used, warning = precision.on_cpu(cfg, extensions, onednn)
    assert used.mixed_precision is kept
    assert (warning is None) if kept else (says in warning and warning.endswith("training in float32"))


def test_float16_is_turned_off_on_any_cpu_with_a_hint_where_bfloat16_would_run():
    cfg = CFG.replace(mixed_precision=True)
    on_zen4 = precision.on_cpu(cfg, ZEN4, True)
    on_avx2 = precision.on_cpu(cfg, AVX2, True)
    assert not on_zen4[0].mixed_precision and not on_avx2[0].mixed_precision
    assert on_zen4[1].startswith("mixed_precision requested but no GPU is visible: training in float32")
    assert "model.mixed_precision_dtype=bfloat16" in on_zen4[1]
    assert "bfloat16" not in on_avx2[1]
    assert precision.on_cpu(CFG, AVX2, True) == (CFG, None)


@pytest.mark.parametrize("extensions, onednn, policy, says", [
    (ZEN4, True, "mixed_bfloat16", "bfloat16 mixed precision: this CPU computes in it"),
    (SAPPHIRE_RAPIDS, True, "mixed_bfloat16", "bfloat16 mixed precision: this CPU computes in it"),
    (AVX2, True, "float32", "float32: this CPU has neither avx512_bf16 nor amx_bf16"),
    (None, True, "float32", "float32: this CPU has neither"),
    (ZEN4, False, "float32", "float32: oneDNN's kernels are off"),
])
def test_bfloat16_on_cpu_trains_in_bfloat16_only_where_the_cpu_computes_in_it(extensions, onednn, policy, says):
    cfg = CFG.replace(bfloat16_on_cpu=True)
    used, line = precision.where_the_cpu_computes_in_bfloat16(cfg, extensions, onednn)
    assert precision.policy_name(used) == policy and line.startswith(says)
    assert used.replace(mixed_precision=False, mixed_precision_dtype="float16") == cfg  # nothing else moved
    assert precision.on_cpu(used, extensions, onednn) == (used, None)  # and the CPU guard keeps it, silently


def test_bfloat16_on_cpu_leaves_an_explicit_choice_and_its_own_absence_alone():
    assert precision.where_the_cpu_computes_in_bfloat16(CFG, ZEN4, True) == (CFG, None)
    float16 = CFG.replace(bfloat16_on_cpu=True, mixed_precision=True)  # a gpu preset on a CPU node: on_cpu's case
    assert precision.where_the_cpu_computes_in_bfloat16(float16, ZEN4, True) == (float16, None)
    assert not precision.on_cpu(float16, ZEN4, True)[0].mixed_precision


@needs_bf16_cpu
def test_networks_built_under_bfloat16_compute_in_it_keep_float32_weights_and_return_float32():
    cfg = CFG.replace(mixed_precision=True, mixed_precision_dtype="bfloat16")
    gen = networks.build_generator(cfg, VOCAB)
    disc = networks.build_discriminator(cfg, VOCAB)
    editor = networks.build_editor(cfg, VOCAB)
    assert keras.config.dtype_policy().name == "float32"  # the build did not leak the policy
    conditions = {a: tf.one_hot([0, 1], v) for a, v in VOCAB.items()}
    image = gen({"z": tf.random.normal((2, cfg.z_dim)), **conditions})
    assert image.dtype == tf.float32 and np.isfinite(image.numpy()).all()
    scores = disc({"image": image, **conditions})
    assert all(v.dtype == tf.float32 for v in scores.values())
    edit = editor({"image": image, **conditions, "strength": tf.ones((2, 1)), "background": tf.zeros((2, 1))})
    assert all(v.dtype == tf.float32 for v in edit.values())
    assert "bfloat16" in {layer.compute_dtype for layer in gen.layers if layer.weights}
    assert {v.dtype for m in (gen, disc, editor) for v in m.trainable_variables} == {"float32"}
