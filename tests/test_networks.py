"""Shapes, dtypes and contracts of the Vitrine networks (ARCHITECTURE.md §Networks)."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from models import networks  # noqa: E402
from models.config import ModelConfig  # noqa: E402

VOCAB = {"articleType": 5, "baseColour": 4}
BATCH = 4


def _cfg(resolution):
    return ModelConfig(resolution=resolution, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8,
                       editor_channels=8)


def _conditions(ids=(0, 1, 2, 3)):
    return {a: tf.one_hot(list(ids), v) for a, v in VOCAB.items()}


@pytest.mark.parametrize("resolution", [16, 32])
def test_network_shapes_and_dtypes(resolution):
    cfg = _cfg(resolution)
    gen = networks.build_generator(cfg, VOCAB)
    image = gen({"z": tf.random.normal((BATCH, cfg.z_dim)), **_conditions()})
    assert tuple(image.shape) == (BATCH, resolution, resolution, 3) and image.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(image))) <= 1.0

    editor = networks.build_editor(cfg, VOCAB)
    out = editor({"image": image, **_conditions(), "strength": tf.ones((BATCH, 1)), "background": tf.zeros((BATCH, 1))})
    assert set(out) == {"image", "mask"}
    assert tuple(out["image"].shape) == (BATCH, resolution, resolution, 3)
    assert tuple(out["mask"].shape) == (BATCH, resolution, resolution, 1)
    assert out["mask"].dtype == tf.float32

    disc = networks.build_discriminator(cfg, VOCAB)
    scores = disc({"image": image, **_conditions()})
    assert set(scores) == {"adv", *VOCAB}
    assert tuple(scores["adv"].shape) == (BATCH, 1)
    for attr, size in VOCAB.items():
        assert tuple(scores[attr].shape) == (BATCH, size) and scores[attr].dtype == tf.float32
    for model in (gen, editor, disc):
        assert isinstance(model, keras.Model)


def test_editor_strength_zero_is_identity():
    cfg = _cfg(16)
    editor = networks.build_editor(cfg, VOCAB)
    image = tf.random.uniform((BATCH, 16, 16, 3), -1.0, 1.0)
    out = editor({"image": image, **_conditions((1, 2, 3, 4)), "strength": tf.zeros((BATCH, 1)), "background": tf.ones((BATCH, 1))})
    np.testing.assert_array_equal(out["image"].numpy(), image.numpy())
    keep = {a: tf.zeros((BATCH, v)) for a, v in VOCAB.items()}  # all-zero weights = "keep" is a valid input
    out = editor({"image": image, **keep, "strength": tf.fill((BATCH, 1), 0.5), "background": tf.zeros((BATCH, 1))})
    assert np.isfinite(out["image"].numpy()).all()


def test_editor_background_input_changes_the_edit():
    """The background request (1 = clean to white) reaches the editor's blocks: the same image and attributes
    edit differently with 0 and 1; a missing background input is refused. (FiLM starts as the identity, so the
    weights are randomised first: a fresh editor ignores every condition.)"""
    keras.utils.set_random_seed(0)
    editor = networks.build_editor(_cfg(16), VOCAB)
    rng = np.random.default_rng(0)
    editor.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype("float32") for w in editor.get_weights()])
    image = tf.random.uniform((BATCH, 16, 16, 3), -1.0, 1.0)
    keep = {a: tf.zeros((BATCH, v)) for a, v in VOCAB.items()}
    outs = [editor({"image": image, **keep, "strength": tf.ones((BATCH, 1)), "background": tf.fill((BATCH, 1), f)})
            for f in (0.0, 1.0)]
    assert float(tf.reduce_max(tf.abs(outs[0]["image"] - outs[1]["image"]))) > 1e-4
    with pytest.raises((KeyError, ValueError)):
        editor({"image": image, **keep, "strength": tf.ones((BATCH, 1))})


def test_editor_keep_mask_starts_at_editor_mask_init_logit():
    """The keep-mask head's bias sets where the mask starts: ~0.05 at the default logit -3, ~0.73 at 1 (its small
    kernel keeps every pixel near the sigmoid of the bias, the mean closer still), so an editor can start near its
    input."""
    keras.utils.set_random_seed(0)  # the kernel's random init moves the mean by up to ~0.03
    image = tf.random.uniform((BATCH, 16, 16, 3), -1.0, 1.0)
    means = {}
    for logit in (-3.0, 1.0):
        editor = networks.build_editor(_cfg(16).replace(editor_mask_init_logit=logit), VOCAB)
        mask = editor({"image": image, **_conditions(), "strength": tf.ones((BATCH, 1)), "background": tf.zeros((BATCH, 1))})["mask"].numpy()
        means[logit] = float(mask.mean())
        start = 1.0 / (1.0 + np.exp(-logit))
        assert abs(means[logit] - start) < 0.05 and float(np.abs(mask - start).max()) < 0.25, (logit, means[logit])
    assert means[-3.0] < 0.1 < 0.6 < means[1.0]


@pytest.mark.parametrize("z_to_blocks", [False, True])
def test_z_reaches_every_block_only_when_asked(z_to_blocks):
    """With the input path cut (z's rows of g_from_z zeroed) z still changes the image iff it joins the blocks."""
    cfg = _cfg(16).replace(z_to_blocks=z_to_blocks)
    gen = networks.build_generator(cfg, VOCAB)
    rng = np.random.default_rng(0)
    for layer in gen.layers:
        if isinstance(layer, networks.FiLM):  # FiLM starts at zero: give it weights so its input matters
            for w in layer.weights:
                w.assign(rng.normal(0.0, 0.3, w.shape).astype("float32"))
    kernel = gen.get_layer("g_from_z").kernel
    kernel.assign(np.concatenate([np.zeros((cfg.z_dim, kernel.shape[1]), "float32"), kernel.numpy()[cfg.z_dim:]]))
    film_inputs = {layer.to_scale.kernel.shape[0] for layer in gen.layers if isinstance(layer, networks.FiLM)}
    assert film_inputs == ({cfg.z_dim + cfg.gen_channels} if z_to_blocks else {cfg.gen_channels})
    cond = _conditions((1, 1, 1, 1))
    a = gen({"z": tf.random.normal((BATCH, cfg.z_dim), seed=1), **cond}).numpy()
    b = gen({"z": tf.random.normal((BATCH, cfg.z_dim), seed=2), **cond}).numpy()
    if z_to_blocks:
        assert np.abs(a - b).mean() > 1e-3
    else:
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_weighted_mix_embeds_as_interpolation():
    cfg = _cfg(16)
    gen = networks.build_generator(cfg, VOCAB)
    encoder = gen.get_layer("condition_encoder")  # shared sub-model, so this tests the generator's own weights
    red, white = 1, 3

    def encode(colour_weights):
        return encoder({"articleType": tf.one_hot([2], 5), "baseColour": tf.constant([colour_weights], tf.float32)})

    mix = encode(0.7 * np.eye(4)[red] + 0.3 * np.eye(4)[white])
    expected = 0.7 * encode(np.eye(4)[red]) + 0.3 * encode(np.eye(4)[white])
    np.testing.assert_allclose(mix.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(encode(np.eye(4)[red]).numpy(), encode(np.eye(4)[white]).numpy())


def test_mixed_precision_outputs_float32():
    cfg = _cfg(16).replace(mixed_precision=True)
    gen = networks.build_generator(cfg, VOCAB)
    disc = networks.build_discriminator(cfg, VOCAB)
    assert keras.config.dtype_policy().name == "float32"  # build did not leak the policy
    image = gen({"z": tf.random.normal((2, cfg.z_dim)), **_conditions((0, 1))})
    assert image.dtype == tf.float32
    scores = disc({"image": image, **_conditions((0, 1))})
    assert all(v.dtype == tf.float32 for v in scores.values())


def test_bad_config_raises():
    with pytest.raises(ValueError, match="power of two"):
        networks.build_generator(_cfg(16).replace(resolution=24), VOCAB)
    with pytest.raises(ValueError, match="vocab_sizes"):
        networks.build_generator(_cfg(16), {"articleType": 5})


@pytest.mark.parametrize("channels,groups", [(16, 8), (64, 8), (24, 8), (4, 4)])
def test_group_norm_matches_keras_group_normalization(channels, groups):
    """The networks' GroupNorm (per-channel moments, no group reshape) computes what Keras' layer computes,
    forward and backward."""
    from models.layers import GroupNorm

    x = tf.constant(np.random.default_rng(0).normal(0.5, 2.0, (3, 8, 8, channels)).astype("float32"))
    ours = GroupNorm(groups)
    reference = keras.layers.GroupNormalization(groups=groups, center=False, scale=False, epsilon=1e-5)
    weights = tf.constant(np.random.default_rng(1).normal(size=x.shape).astype("float32"))
    outputs, grads = [], []
    for layer in (ours, reference):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * weights)
        outputs.append(y.numpy())
        grads.append(tape.gradient(loss, x).numpy())
    np.testing.assert_allclose(outputs[0], outputs[1], atol=2e-5)
    np.testing.assert_allclose(grads[0], grads[1], atol=2e-4)
    with pytest.raises(ValueError, match="groups"):
        GroupNorm(5)(x)


def test_minibatch_stddev_groups_are_contiguous_and_see_alike_samples():
    """The extra channel is the feature std within contiguous groups: a group of identical images reads ~0, a
    group of different images reads their std, and a group never reaches into the next run of the batch (D's
    batch is [reals; fakes; edits]); an uneven batch falls back to groups of one."""
    from models.layers import MinibatchStddev

    rng = np.random.default_rng(0)
    alike = np.repeat(rng.normal(size=(1, 4, 4, 3)), 4, axis=0)
    varied = rng.normal(0.0, 2.0, (4, 4, 4, 3))
    x = tf.constant(np.concatenate([alike, varied]).astype("float32"))
    layer = MinibatchStddev(4)
    y = layer(x).numpy()
    assert y.shape == (8, 4, 4, 4)
    np.testing.assert_array_equal(y[..., :3], x.numpy())
    np.testing.assert_allclose(y[:4, ..., 3], 1e-4, atol=1e-6)  # alike group: sqrt(0 + 1e-8)
    expected = np.sqrt(varied.var(axis=0) + 1e-8).mean()
    np.testing.assert_allclose(y[4:, ..., 3], expected, rtol=1e-5)
    np.testing.assert_allclose(MinibatchStddev(4)(x[:6]).numpy()[..., 3], 1e-4, atol=1e-6)
    # inside a traced function with an unknown batch size, the same values
    traced = tf.function(layer, input_signature=[tf.TensorSpec([None, 4, 4, 3])])
    np.testing.assert_allclose(traced(x).numpy(), y, rtol=1e-6)


@pytest.mark.parametrize("twin,group", [(0.0, 0), (1.0, 4)])
def test_discriminator_twin_heads_and_minibatch_std_only_when_asked(twin, group):
    cfg = _cfg(16).replace(twin_cls_weight=twin, minibatch_std_group=group)
    disc = networks.build_discriminator(cfg, VOCAB)
    out = disc({"image": tf.random.uniform((BATCH, 16, 16, 3), -1, 1), **_conditions()})
    twins = {networks.twin_output(a) for a in VOCAB}
    assert (twins <= set(out)) == bool(twin) and (set(out) & twins or not twin)
    for attr, size in VOCAB.items():
        if twin:
            assert tuple(out[networks.twin_output(attr)].shape) == (BATCH, size)
    names = {layer.name for layer in disc.layers}
    assert ("d_minibatch_std" in names) == bool(group)
    with pytest.raises(ValueError, match="twin"):
        networks.build_discriminator(cfg.replace(condition_attributes=("articleType", "articleType_twin")),
                                     {**VOCAB, "articleType_twin": 3})


def test_spectral_norm_divides_each_d_conv_by_its_largest_singular_value():
    """With d_spectral_norm every D conv is a SpectralConv2D; stored power iterations converge to the kernel's
    largest singular value (numpy's SVD), and the normalised kernel's is then 1. Off, D has plain convs."""
    from models.layers import SpectralConv2D

    disc = networks.build_discriminator(_cfg(16).replace(d_spectral_norm=True), VOCAB)
    convs = [layer for layer in disc.layers if isinstance(layer, SpectralConv2D)]
    assert convs and all(layer.name.startswith("d_") for layer in convs)
    conv = next(layer for layer in convs if layer.name == "d_block0_conv1")
    rng = np.random.default_rng(0)
    conv.kernel.assign(rng.normal(0, 1, conv.kernel.shape).astype("float32") * 3.0)
    matrix = conv.kernel.numpy().reshape(-1, conv.filters)
    top = np.linalg.svd(matrix, compute_uv=False)[0]
    for _ in range(30):
        conv.sn_u.assign(conv.power_iteration())
    assert float(conv.sigma()) == pytest.approx(top, rel=1e-3)
    normalised = matrix / float(conv.sigma())
    assert np.linalg.svd(normalised, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
    out = disc({"image": tf.random.uniform((BATCH, 16, 16, 3), -1, 1), **_conditions()})
    assert np.isfinite(out["adv"].numpy()).all()
    plain = networks.build_discriminator(_cfg(16), VOCAB)
    assert not any(isinstance(layer, SpectralConv2D) for layer in plain.layers)
