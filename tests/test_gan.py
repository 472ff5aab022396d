"""VitrineGAN trains on random data: finite losses, weights move, EMA lags the raw generator."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from models import augment, losses, networks  # noqa: E402
from models.config import ModelConfig  # noqa: E402
from models.gan import VitrineGAN, one_hot_conditions  # noqa: E402

VOCAB = {"articleType": 5, "baseColour": 4}


def _dataset(resolution, n=16, batch=4, white_border=False):
    """Random images and labels; `white_border`: each image framed in white (3 px), so it gives a clean-up pair."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (n, resolution, resolution, 3)).astype("float32")
    if white_border:
        images[:, :3], images[:, -3:], images[:, :, :3], images[:, :, -3:] = 1.0, 1.0, 1.0, 1.0
    return tf.data.Dataset.from_tensor_slices({
        "image": images,
        "articleType_id": rng.integers(0, 5, n).astype("int64"),
        "baseColour_id": rng.integers(0, 4, n).astype("int64"),
    }).batch(batch, drop_remainder=True).repeat()


def _gan(cfg):
    return VitrineGAN(networks.build_generator(cfg, VOCAB), networks.build_editor(cfg, VOCAB),
                      networks.build_discriminator(cfg, VOCAB), cfg, VOCAB)


def test_one_hot_conditions():
    out = one_hot_conditions({"articleType_id": tf.constant([1, 4], tf.int64), "baseColour": tf.constant([0, 3])}, VOCAB)
    np.testing.assert_array_equal(out["articleType"].numpy(), np.eye(5)[[1, 4]])
    np.testing.assert_array_equal(out["baseColour"].numpy(), np.eye(4)[[0, 3]])
    with pytest.raises(ValueError, match="baseColour"):
        one_hot_conditions({"articleType_id": tf.constant([1])}, VOCAB)


def test_train_steps_change_weights_and_ema():
    cfg = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8, editor_channels=8,
                      batch_size=4, ema_decay=0.9, diffaugment="color,translation,cutout", single_change_prob=0.5)
    gan = _gan(cfg)
    gan.compile()
    before = {n: [w.copy() for w in m.get_weights()] for n, m in
              (("g", gan.generator), ("e", gan.editor), ("d", gan.discriminator))}
    history = gan.fit(_dataset(16), steps_per_epoch=3, epochs=1, verbose=0).history
    for name in ("d_loss", "g_loss", "e_loss", "r1", "pair_l1", "cycle_l1"):
        assert np.isfinite(history[name][-1]), (name, history)
    for name, model in (("g", gan.generator), ("e", gan.editor), ("d", gan.discriminator)):
        moved = max(float(np.abs(a - b).max()) for a, b in zip(before[name], model.get_weights()))
        assert moved > 0, f"{name} weights did not change"
    for key, raw_net, ema_net in (("g", gan.generator, gan.ema_generator), ("e", gan.editor, gan.ema_editor)):
        raw, ema = raw_net.get_weights(), ema_net.get_weights()
        assert max(float(np.abs(a - b).max()) for a, b in zip(raw, ema)) > 0, f"EMA equals raw {key}"
        moved_ema = max(float(np.abs(a - b).max()) for a, b in zip(before[key], ema))
        assert moved_ema > 0, f"EMA of {key} never updated"
    assert gan.export_editor is gan.ema_editor
    raw_export = _gan(cfg.replace(editor_ema=False))
    assert raw_export.export_editor is raw_export.editor
    # the export path calls the EMA generator through the model
    images = gan({"z": tf.random.normal((2, cfg.z_dim)), **one_hot_conditions({"articleType": [0, 1], "baseColour": [2, 3]}, VOCAB)})
    assert tuple(images.shape) == (2, 16, 16, 3)


def test_diff_augment_shapes_and_gradients():
    x = tf.random.uniform((3, 16, 16, 3), -1, 1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment.diff_augment(x, "color,translation,cutout")
        total = tf.reduce_sum(y)
    assert y.shape == x.shape
    assert tape.gradient(total, x) is not None
    with pytest.raises(ValueError, match="Unknown DiffAugment"):
        augment.diff_augment(x, "hue")
    example = {"image": x[0], "articleType_id": tf.constant(1, tf.int64)}
    out = tf.data.Dataset.from_tensors(example).map(augment.augment_example).get_single_element()
    assert out["image"].shape == (16, 16, 3) and int(out["articleType_id"]) == 1
    assert float(tf.reduce_max(tf.abs(out["image"]))) <= 1.0
    # seeded: the same seed gives the same augmented image, another seed another one
    seeded = [augment.augment_example(x[0], tf.constant([7, s], tf.int64)).numpy() for s in (1, 1, 2)]
    assert np.array_equal(seeded[0], seeded[1]) and not np.array_equal(seeded[0], seeded[2])


MIRRORED = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from models.config import ModelConfig
from models.gan import build_vitrine_gan
vocab = {"articleType": 3, "baseColour": 2}
cfg = ModelConfig(resolution=16, z_dim=8, embed_dim=4, gen_channels=16, disc_channels=8, editor_channels=8,
                  lecam_weight=0.3)  # its anchors are per-replica variables, averaged when read
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    gan = build_vitrine_gan(cfg, vocab)
ds = tf.data.Dataset.from_tensor_slices({"image": tf.random.uniform((8, 16, 16, 3), -1, 1),
    "articleType_id": tf.zeros((8,), tf.int64), "baseColour_id": tf.ones((8,), tf.int64)}).batch(8).repeat()
logs = gan.fit(ds, steps_per_epoch=2, verbose=0).history
assert all(np.isfinite(v[-1]) for v in logs.values()), logs
state = gan.training_state()
assert state["lecam_updates"] == 2.0 and all(np.isfinite(state["lecam_ema"])) and logs["lecam"][-1] > 0, state
assert state["network_steps"] == {"generator": 2, "editor": 2, "discriminator": 2}, state
print("MIRRORED_OK")
"""


@pytest.mark.multidevice
def test_fit_under_mirrored_strategy_two_replicas():
    import os
    import subprocess
    import sys
    import pathlib

    repo = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", MIRRORED], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and "MIRRORED_OK" in proc.stdout, proc.stderr[-4000:]


def test_mode_seeking_term_is_reported_only_when_on():
    """Mode seeking pairs G samples by condition; the term is positive and finite when on, exactly 0 when off."""
    base = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8, editor_channels=8,
                       batch_size=4)
    for weight in (0.0, 1.0):
        gan = _gan(base.replace(mode_seeking_weight=weight))
        gan.compile(run_eagerly=True)  # two steps: cheaper than tracing them
        history = gan.fit(_dataset(16), steps_per_epoch=2, epochs=1, verbose=0).history
        value = history["mode_seeking"][-1]
        assert history["d_twin"][-1] == 0.0 and history["g_twin"][-1] == 0.0  # TAC-GAN off by default
        if weight:
            assert np.isfinite(value) and value > 0, history
        else:
            assert value == 0.0, history


def test_single_change_edits_keep_all_but_one_attribute():
    """single_change_prob=1: every training edit changes exactly one attribute; 0: attributes kept independently."""
    base = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8, editor_channels=8,
                       batch_size=4, keep_prob=0.3, condition_attributes=("articleType", "baseColour"))
    tf.random.set_seed(0)
    keep = _gan(base.replace(single_change_prob=1.0))._keep_masks(512)
    kept = np.concatenate([keep[a].numpy() for a in base.condition_attributes], axis=1)
    assert set(np.unique(kept)) <= {0.0, 1.0}
    np.testing.assert_array_equal(kept.sum(axis=1), 1.0)  # two attributes, one kept, one changed
    assert 0.4 < kept[:, 0].mean() < 0.6  # the changed attribute is drawn uniformly
    keep = _gan(base)._keep_masks(512)
    kept = np.concatenate([keep[a].numpy() for a in base.condition_attributes], axis=1)
    assert 0.2 < kept.mean() < 0.4 and (kept.sum(axis=1) == 0).mean() > 0.3  # both changed is common


def test_twin_classifier_is_trained_by_d_and_reported_for_g():
    """TAC-GAN with minibatch std in D: D's step trains the twin heads (only its loss reaches them: under Adam an
    untrained head would not move), G's loss reports the twin's cross-entropy on its samples; off, both terms are
    exactly 0 (test_mode_seeking_term_is_reported_only_when_on)."""
    cfg = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8, editor_channels=8,
                      batch_size=4, minibatch_std_group=4, twin_cls_weight=1.0)
    gan = _gan(cfg)
    gan.compile(run_eagerly=True)  # three steps: cheaper than tracing them
    twin_heads = [gan.discriminator.get_layer(f"d_twin_classify_{a}") for a in VOCAB]
    before = [w.numpy().copy() for head in twin_heads for w in head.weights]
    history = gan.fit(_dataset(16), steps_per_epoch=3, epochs=1, verbose=0).history
    after = [w.numpy() for head in twin_heads for w in head.weights]
    assert all(float(np.abs(a - b).max()) > 0 for a, b in zip(before, after)), "twin heads not trained"
    for name in ("d_twin", "g_twin", "d_loss", "g_loss", "r1"):
        assert np.isfinite(history[name][-1]) and history[name][-1] != 0.0, (name, history)


def test_excess_over_stops_at_the_floor_and_passes_no_gradient_to_it():
    values, floor = tf.constant([0.5, 1.0, 2.5]), tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(values)
        out = losses.excess_over(values, floor)
    np.testing.assert_allclose(out.numpy(), [0.0, 0.0, 1.5])
    np.testing.assert_allclose(tape.gradient(out, values).numpy(), [0.0, 0.0, 1.0])
    assert tape.gradient(out, floor) is None  # the real images' cross-entropy is a target, not a loss for D


SMALL = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8, editor_channels=8,
                    batch_size=4, cls_weight=2.0)


def _first_steps(base=SMALL, dataset=None, **settings):
    """For each {field: value} of `settings`' one field, one training step from the same seed on `base` with it
    (on `dataset`, default _dataset(16)): {value: (history, {"G": weights, "D": weights, "E": weights})}."""
    (field, values), = settings.items()
    runs = {}
    for value in values:
        keras.utils.set_random_seed(0)
        gan = _gan(base.replace(**{field: value}))
        gan.compile(run_eagerly=True)  # one step: tracing it would take most of the test's time
        history = gan.fit(dataset or _dataset(16), steps_per_epoch=1, epochs=1, verbose=0).history
        runs[value] = (history, {"G": gan.generator.get_weights(), "D": gan.discriminator.get_weights(),
                                 "E": gan.editor.get_weights()})
    return runs


def _moved(run_a, run_b, network: str) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(run_a[1][network], run_b[1][network]))


def test_g_cls_real_floor_changes_only_the_generator_step():
    """Off, G minimises its classification cross-entropy as reported (g_cls_loss == g_cls); with a floor far above
    any cross-entropy, the term is 0 and G's first step differs while D's, taken before it, is the same."""
    runs = _first_steps(g_cls_real_floor=(0.0, 1e6))
    off, floored = runs[0.0][0], runs[1e6][0]
    assert off["g_cls_loss"][-1] == pytest.approx(off["g_cls"][-1]) and off["g_cls"][-1] > 0
    assert floored["g_cls_loss"][-1] == 0.0 and floored["g_cls"][-1] > 0
    g_moved, d_moved = _moved(runs[0.0], runs[1e6], "G"), _moved(runs[0.0], runs[1e6], "D")
    assert g_moved > 1e-5 and d_moved < 1e-6, (g_moved, d_moved)


def test_editor_cls_weight_weighs_only_the_editor_classification_term():
    """Negative (the default) = cls_weight; 0 drops the editor's classification term from its loss only: after one
    step G and D are the same, E is not, and the losses differ by exactly cls_weight * e_cls."""
    runs = _first_steps(editor_cls_weight=(-1.0, 0.0))
    same, off = runs[-1.0][0], runs[0.0][0]
    assert same["e_cls"][-1] > 0 and off["e_cls"][-1] == pytest.approx(same["e_cls"][-1], rel=1e-5)
    assert same["e_loss"][-1] - off["e_loss"][-1] == pytest.approx(2.0 * same["e_cls"][-1], rel=1e-4)
    moved = {name: _moved(runs[-1.0], runs[0.0], name) for name in ("G", "D", "E")}
    assert moved["G"] < 1e-6 and moved["D"] < 1e-6 and moved["E"] > 1e-5, moved


def test_background_mask_weight_adds_the_keep_mask_term_to_the_editor_loss_only():
    """The clean-up pairs' keep-mask cross-entropy is reported either way; weight 1 adds exactly it to E's loss,
    and after one step G and D are the same, E is not."""
    runs = _first_steps(dataset=_dataset(16, white_border=True), background_mask_weight=(0.0, 1.0))
    off, on = runs[0.0][0], runs[1.0][0]
    assert off["background_mask"][-1] > 0 and on["background_mask"][-1] == pytest.approx(off["background_mask"][-1],
                                                                                           rel=1e-5)
    assert on["e_loss"][-1] - off["e_loss"][-1] == pytest.approx(on["background_mask"][-1], rel=1e-4)
    moved = {name: _moved(runs[0.0], runs[1.0], name) for name in ("G", "D", "E")}
    assert moved["G"] < 1e-6 and moved["D"] < 1e-6 and moved["E"] > 1e-5, moved


def test_background_mask_pairs_white_leaves_the_keep_pairs_out_of_the_mask_term():
    """Every image a clean-up pair (background_share 1: two ask for white, two to keep) and a keep-mask of ~1
    everywhere (logit 6): the keep pairs' cross-entropy is ~0 and the white pairs' is large, so averaging over the
    white pairs only ("white") doubles the term that "all" averages over four; a mask of ~0 (logit -6) is wrong
    for the keep pairs everywhere, and leaving them out lowers the term. Anything else is refused."""
    def term(bias, pairs):
        return _first_step_from_mask_bias(bias, white_border=True, background_share=1.0, background_mask_weight=1.0,
                                          background_mask_pairs=pairs)[0]["background_mask"]

    keep_all, white_only = term(6.0, "all"), term(6.0, "white")
    assert keep_all > 0.1 and white_only == pytest.approx(2.0 * keep_all, rel=0.02), (keep_all, white_only)
    assert term(-6.0, "white") < term(-6.0, "all") - 1.0  # the keep pairs cost ~6 a pixel there
    with pytest.raises(ValueError, match="background_mask_pairs must be one of"):
        _gan(SMALL.replace(background_mask_pairs="keep"))


def test_mask_cross_entropy_is_near_zero_on_the_target_and_large_off_it():
    target = tf.constant([[[[0.0], [1.0]], [[1.0], [0.0]]]])  # [1, 2, 2, 1]
    right, wrong = 0.999 * target + 0.0005, 0.999 * (1.0 - target) + 0.0005
    values = losses.mask_cross_entropy(tf.concat([right, wrong], 0), tf.concat([target, target], 0)).numpy()
    assert values.shape == (2,) and values[0] < 0.01 and values[1] > 5.0


def test_d_mismatch_term_trains_d_on_real_images_with_wrong_labels_only_when_on():
    """Off, the term is exactly 0 and D's first step is the plain one; on, D's loss has a finite positive
    mismatch hinge (real images with the batch's labels rolled by one, as fakes) and its first step differs."""
    runs = _first_steps(d_mismatch_weight=(0.0, 1.0))
    assert runs[0.0][0]["d_mismatch"][-1] == 0.0
    on = runs[1.0][0]["d_mismatch"][-1]
    assert np.isfinite(on) and on > 0.0
    assert runs[1.0][0]["d_loss"][-1] != pytest.approx(runs[0.0][0]["d_loss"][-1])
    assert _moved(runs[0.0], runs[1.0], "D") > 1e-6


def test_d_mismatch_labels_choose_the_wrong_pairs_and_bad_values_are_refused():
    """"edit" pairs the real images with the step's edit targets instead of the rolled labels: with the same seed
    and weight, D sees other conditions, so its mismatch hinge and its step differ; anything else is refused."""
    runs = _first_steps(SMALL.replace(d_mismatch_weight=1.0), d_mismatch_labels=("roll", "edit"))
    edit = runs["edit"][0]["d_mismatch"][-1]
    assert np.isfinite(edit) and edit > 0.0 and edit != pytest.approx(runs["roll"][0]["d_mismatch"][-1])
    assert _moved(runs["roll"], runs["edit"], "D") > 1e-6
    with pytest.raises(ValueError, match="d_mismatch_labels must be one of"):
        _gan(SMALL.replace(d_mismatch_weight=1.0, d_mismatch_labels="shuffle"))


def _first_step_from_mask_bias(bias: float, white_border: bool = False, **cfg):
    """One training step from seed 0 with the editor's keep-mask head biased to `bias` (logit): the step's losses,
    the mask head's bias after it and the editor's weights (`white_border`: on images that give clean-up pairs)."""
    keras.utils.set_random_seed(0)
    gan = _gan(SMALL.replace(e_lr=1e-2, **cfg))
    head = gan.editor.get_layer("e_to_mask")
    head.bias.assign(tf.fill(head.bias.shape, bias))
    gan.compile()
    batch = next(iter(_dataset(16, white_border=white_border)))
    values = gan.train_step(batch)  # eager: a single step is cheaper than tracing fit()'s
    return {name: float(value) for name, value in values.items()}, float(head.bias.numpy()[0]), gan.editor.get_weights()


def test_mask_cap_pushes_a_saturated_keep_mask_down_and_leaves_an_editing_one_alone():
    """Near identity (logit 6: m ~ 0.998 > the cap 0.95) the term is the mean excess over the edits that change an
    attribute, E's loss grows by exactly weight x excess and the mask head's bias falls; edits that change nothing
    and an editing mask (logit -3, the start value: m ~ 0.05) cost nothing, and E's step is the one without the
    term. A cap outside (0, 1) is refused."""
    saturated = {w: _first_step_from_mask_bias(6.0, mask_cap_weight=w) for w in (0.0, 1e4)}
    off, on = saturated[0.0][0], saturated[1e4][0]
    assert off["mask_cap"] == 0.0
    excess = on["mask_cap"]
    assert excess == pytest.approx(1.0 / (1.0 + np.exp(-6.0)) - 0.95, abs=2e-3)
    assert on["e_loss"] - off["e_loss"] == pytest.approx(1e4 * excess, rel=1e-3)
    assert saturated[1e4][1] < 6.0 - 5e-3  # Adam's first step: about e_lr against the excess
    # edits that keep every attribute ask for the input back: no cap there
    assert _first_step_from_mask_bias(6.0, mask_cap_weight=1e4, keep_prob=1.0)[0]["mask_cap"] == 0.0
    editing = {w: _first_step_from_mask_bias(-3.0, mask_cap_weight=w) for w in (0.0, 1e4)}
    assert editing[1e4][0]["mask_cap"] == 0.0
    moved = max(float(np.abs(a - b).max()) for a, b in zip(editing[0.0][2], editing[1e4][2]))
    assert moved < 1e-7, moved
    with pytest.raises(ValueError, match="mask_cap is a keep-mask mean"):
        _gan(SMALL.replace(mask_cap_weight=1.0, mask_cap=1.0))


def _d_after_steps(mask_bias: float, steps: int = 1, **cfg):
    """D's weights after `steps` eager training steps from seed 0, the editor's keep-mask head biased to
    `mask_bias`."""
    keras.utils.set_random_seed(0)
    gan = _gan(SMALL.replace(**cfg))
    head = gan.editor.get_layer("e_to_mask")
    head.bias.assign(tf.fill(head.bias.shape, mask_bias))
    gan.compile()
    batches = iter(_dataset(16))
    for _ in range(steps):
        gan.train_step(next(batches))
    return gan.discriminator.get_weights()


def test_d_editor_fake_share_0_keeps_the_edits_out_of_d_and_bad_shares_are_refused():
    """At share 0, or before d_editor_fake_from_step, D's step does not depend on the editor (two editors with other
    keep-masks leave D where the same step leaves it); at the default 0.5 from step 0 it does, so the check can
    fail. A share outside [0, 1] and a negative step are refused."""
    def d_moved(steps=1, **cfg):
        a, b = _d_after_steps(-3.0, steps, **cfg), _d_after_steps(3.0, steps, **cfg)
        return max(float(np.abs(x - y).max()) for x, y in zip(a, b))
    assert d_moved(d_editor_fake_share=0.0) == 0.0
    assert d_moved(d_editor_fake_share=0.5) > 1e-6
    # from step 1 on: D's first step (step 0) leaves the edits out too
    assert d_moved(d_editor_fake_share=0.5, d_editor_fake_from_step=1) == 0.0
    assert d_moved(2, d_editor_fake_share=0.0) == 0.0  # the editor reaches D's second step only through the edits
    assert d_moved(2, d_editor_fake_share=0.5, d_editor_fake_from_step=1) > 1e-6  # and in from step 1
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="d_editor_fake_share is a share"):
            _gan(SMALL.replace(d_editor_fake_share=bad))
    with pytest.raises(ValueError, match="d_editor_fake_from_step is a step"):
        _gan(SMALL.replace(d_editor_fake_from_step=-1))


def test_editor_warm_up_trains_g_and_d_alone_until_editor_from_step_then_the_full_step():
    """Before editor_from_step fit() runs the G+D step: E, its optimizer and its average stay put and no editor term
    is reported; EditorFromStep switches to the full step at that step (counted from the resumed run's first step),
    and E's average then ramps over E's own steps, not G's (a late editor is not averaged at ema_decay)."""
    from models.gan import EditorFromStep

    keras.utils.set_random_seed(0)
    gan = _gan(SMALL.replace(editor_from_step=3, ema_decay=0.999))
    gan.compile()
    assert not gan.editor_training
    init = {n: [w.copy() for w in getattr(gan, n).get_weights()] for n in ("generator", "editor", "ema_editor")}
    switch = EditorFromStep(gan, start_step=1)  # resumed at step 1: two G+D steps left
    first = gan.fit(_dataset(16), steps_per_epoch=2, epochs=1, verbose=0, callbacks=[switch]).history
    assert "e_loss" not in first and "mask_mean" not in first and np.isfinite(first["g_loss"][-1])
    assert _moved_from(init["generator"], gan.generator) > 0
    assert _moved_from(init["editor"], gan.editor) == 0.0 and _moved_from(init["ema_editor"], gan.ema_editor) == 0.0
    assert int(gan.e_optimizer.iterations) == 0 and int(gan.g_optimizer.iterations) == 2
    assert gan.editor_training and switch.step == 3  # switched at the end of step 3

    gan.g_optimizer.iterations.assign(10 ** 6)  # as after a long warm-up: G's own average runs at ema_decay
    second = gan.fit(_dataset(16), steps_per_epoch=2, epochs=1, verbose=0, callbacks=[switch]).history
    assert np.isfinite(second["e_loss"][-1]) and "mask_mean" in second
    assert int(gan.e_optimizer.iterations) == 2
    moved = _moved_from(init["editor"], gan.editor)
    assert moved > 0
    # E's average follows E's first steps (decay 2/11, 3/12); at G's 0.999 it would still sit at the initial weights
    lag = max(float(np.abs(a - b).max()) for a, b in zip(gan.ema_editor.get_weights(), gan.editor.get_weights()))
    assert lag < 0.5 * moved, (lag, moved)
    with pytest.raises(ValueError, match="editor_from_step is a step"):
        _gan(SMALL.replace(editor_from_step=-1))


def test_the_averages_ramp_reaches_as_far_back_as_ema_ramp_says():
    """After a network's s-th step its average decays at (1 + s) / (ramp + s), below ema_decay: one step from the
    initial weights w0 to w1 leaves d * w0 + (1 - d) * w1 with d = 2 / (ramp + 1). G's ramp is ema_ramp; E's is
    editor_ema_ramp, or ema_ramp where that is 0 (the default). With ema_late_ramp set, G's ramp is that from its
    step ema_late_from_step on (the first step here is step 1), and E's stays as it was."""
    # (ema_ramp, editor_ema_ramp, ema_late_ramp, ema_late_from_step), G's ramp, E's ramp; the last reads as
    # the default at step 1
    cases = (((4.0, 0.0, 0.0, 1), 4.0, 4.0), ((4.0, 10.0, 0.0, 1), 4.0, 10.0), ((10.0, 0.0, 4, 1), 4.0, 10.0),
             ((10.0, 0.0, 4.0, 2), 10.0, 10.0))
    for (ramp, e_setting, late, late_from), g_ramp, e_ramp in cases:
        keras.utils.set_random_seed(0)
        gan = _gan(SMALL.replace(ema_ramp=ramp, editor_ema_ramp=e_setting, ema_late_ramp=late,
                                 ema_late_from_step=late_from))
        gan.compile()
        init = {n: [w.copy() for w in getattr(gan, n).get_weights()] for n in ("generator", "editor")}
        gan.fit(_dataset(16), steps_per_epoch=1, epochs=1, verbose=0)
        for raw, ema, ramp in (("generator", "ema_generator", g_ramp), ("editor", "ema_editor", e_ramp)):
            d = 2.0 / (ramp + 1.0)
            moved = _moved_from(init[raw], getattr(gan, raw))
            assert moved > 0, raw
            expected = [d * w0 + (1.0 - d) * w1 for w0, w1 in zip(init[raw], getattr(gan, raw).get_weights())]
            gap = max(float(np.abs(e - a).max()) for e, a in zip(expected, getattr(gan, ema).get_weights()))
            assert gap <= 1e-6 + 1e-4 * moved, (ramp, e_setting, late, late_from, raw, gap, moved)
    for bad in (1.0, 0.5):
        with pytest.raises(ValueError, match="ema_ramp must be above 1"):
            SMALL.replace(ema_ramp=bad)
        with pytest.raises(ValueError, match="editor_ema_ramp must be 0"):
            SMALL.replace(editor_ema_ramp=bad)
        with pytest.raises(ValueError, match="ema_late_ramp must be 0"):
            SMALL.replace(ema_late_ramp=bad)
    with pytest.raises(ValueError, match="ema_late_from_step counts"):
        SMALL.replace(ema_late_ramp=4.0, ema_late_from_step=0)


def test_a_resumed_run_keeps_each_networks_step_count_and_its_averages_ramp(tmp_path):
    """A checkpoint keeps how many steps G, E and D took; a model restored from it counts on from there, so the
    moving average's next decay is (1 + 4) / (ramp + 4) after 3 steps, not the fresh run's 2 / (ramp + 1) (which
    restarted the average at every resume before session 58). Checkpoints without the counts (older ones) read G and
    D at the checkpoint's step and E at the steps after its warm-up."""
    import json

    from models.training import STATE_FILE, Checkpoints

    keras.utils.set_random_seed(0)
    cfg = SMALL.replace(ema_decay=0.999)
    gan = _gan(cfg)
    gan.compile()
    gan.fit(_dataset(16), steps_per_epoch=3, epochs=1, verbose=0)
    assert gan.training_state()["network_steps"] == {"generator": 3, "editor": 3, "discriminator": 3}
    Checkpoints(str(tmp_path)).save(gan, 3)

    resumed = _gan(cfg)
    resumed.compile()
    assert Checkpoints(str(tmp_path)).restore_latest(resumed) == 3
    assert {n: int(resumed.steps_taken(n)) for n in ("generator", "editor", "discriminator")} == {
        "generator": 3, "editor": 3, "discriminator": 3}
    before = {n: [w.copy() for w in getattr(resumed, n).get_weights()] for n in ("ema_generator", "ema_editor")}
    resumed.fit(_dataset(16), steps_per_epoch=1, epochs=1, verbose=0)
    d = 5.0 / (cfg.ema_ramp + 4.0)
    for raw, ema in (("generator", "ema_generator"), ("editor", "ema_editor")):
        expected = [d * a + (1.0 - d) * w for a, w in zip(before[ema], getattr(resumed, raw).get_weights())]
        gap = max(float(np.abs(e - a).max()) for e, a in zip(expected, getattr(resumed, ema).get_weights()))
        assert gap <= 1e-6, (raw, gap)
    assert resumed.training_state()["network_steps"]["generator"] == 4

    state_file = tmp_path / "step-00000003" / STATE_FILE
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({k: v for k, v in state.items() if k != "network_steps"}))
    older = _gan(cfg.replace(editor_from_step=2))
    older.compile()
    Checkpoints(str(tmp_path)).restore_latest(older)
    assert older.training_state()["network_steps"] == {"generator": 3, "editor": 1, "discriminator": 3}


class _EditRows(VitrineGAN):
    """VitrineGAN that records how many images each editor call edits (eager steps only)."""

    def _edit(self, images, conditions, training=True, background=None):
        self.edit_rows.append(int(images.shape[0]))
        return super()._edit(images, conditions, training, background)


def test_editor_batch_fraction_edits_the_batch_head_only_and_g_and_d_keep_the_whole_batch():
    """At 0.5 of a batch of 4 the editor edits 2 images and cycles/pairs 2 + 2, where at 1.0 it edits 4 and 4 + 4;
    either way it cleans up ceil(0.25 * its images) = 1 background (background_share 0.25). D's real term covers
    the whole batch either way, the editor still trains and its step differs. A fraction outside (0, 1] is
    refused; without background_share the clean-up call is not made."""
    steps = {}
    for fraction in (1.0, 0.5):
        keras.utils.set_random_seed(0)
        cfg = SMALL.replace(editor_batch_fraction=fraction)
        gan = _EditRows(networks.build_generator(cfg, VOCAB), networks.build_editor(cfg, VOCAB),
                        networks.build_discriminator(cfg, VOCAB), cfg, VOCAB)
        gan.edit_rows = []
        gan.compile()
        init = gan.editor.get_weights()
        values = gan.train_step(next(iter(_dataset(16))))
        assert np.isfinite(float(values["e_loss"])) and np.isfinite(float(values["d_loss"]))
        assert _moved_from(init, gan.editor) > 0
        steps[fraction] = (gan.edit_rows, float(values["d_real"]), gan.editor.get_weights())
    assert steps[1.0][0] == [4, 8, 1] and steps[0.5][0] == [2, 4, 1]
    # D's real term is over the whole batch in both; the editor's step differs
    assert steps[0.5][1] == pytest.approx(steps[1.0][1], rel=1e-5)
    assert max(float(np.abs(a - b).max()) for a, b in zip(steps[1.0][2], steps[0.5][2])) > 1e-6
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="editor_batch_fraction is a share"):
            _gan(SMALL.replace(editor_batch_fraction=bad))
    cfg = SMALL.replace(background_share=0.0)
    gan = _EditRows(networks.build_generator(cfg, VOCAB), networks.build_editor(cfg, VOCAB),
                    networks.build_discriminator(cfg, VOCAB), cfg, VOCAB)
    gan.edit_rows = []
    gan.compile()
    assert float(gan.train_step(next(iter(_dataset(16))))["background_l1"]) == 0.0 and gan.edit_rows == [4, 8]
    with pytest.raises(ValueError, match="background_share is a share"):
        _gan(SMALL.replace(background_share=1.5))


def _moved_from(weights, model) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(weights, model.get_weights()))


def test_spectral_norm_trains_through_fit_and_stores_its_power_iterations():
    """With d_spectral_norm, fit() (a traced step) trains and each D step stores every conv's refined vector. The
    estimate of σ is a lower bound of the kernel's largest singular value (numpy's SVD) that has reached 75 % of it
    after 8 steps (one iteration per step, as SNGAN; tests/test_networks.py pins the convergence)."""
    from models.layers import SpectralConv2D

    keras.utils.set_random_seed(0)
    gan = _gan(SMALL.replace(d_spectral_norm=True))
    gan.compile()
    convs = [layer for layer in gan.discriminator.layers if isinstance(layer, SpectralConv2D)]
    before = [layer.sn_u.numpy().copy() for layer in convs]
    history = gan.fit(_dataset(16), steps_per_epoch=8, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][-1]) and np.isfinite(history["g_loss"][-1])
    assert all(not np.array_equal(b, layer.sn_u.numpy()) for b, layer in zip(before, convs))
    for layer in convs:
        top = np.linalg.svd(layer.kernel.numpy().reshape(-1, layer.filters), compute_uv=False)[0]
        assert 0.75 * top < float(layer.sigma()) <= top * (1 + 1e-4), (layer.name, float(layer.sigma()), top)


def test_lecam_terms_by_hand_and_no_gradient_to_the_anchors():
    """relu(D(real) - a_fake)² and relu(a_real - D(fake))²: only reals scored above the fakes' average and fakes
    below the reals' average cost anything, and the anchors are targets, not variables D learns through."""
    real, fake = tf.constant([2.0, -0.5, 0.3]), tf.constant([-2.0, 0.5, 1.5])
    a_real, a_fake = tf.Variable(1.0), tf.Variable(-1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([real, fake])
        real_term, fake_term = losses.lecam_terms(real, fake, a_real, a_fake)
    np.testing.assert_allclose(real_term.numpy(), [9.0, 0.25, 1.69], rtol=1e-6)  # (2+1)², (-0.5+1)², (0.3+1)²
    np.testing.assert_allclose(fake_term.numpy(), [9.0, 0.25, 0.0], rtol=1e-6)  # (1+2)², (1-0.5)², 1.5 above a_real
    np.testing.assert_allclose(tape.gradient(fake_term, fake).numpy(), [-6.0, -1.0, 0.0], rtol=1e-6)
    assert tape.gradient(real_term, a_fake) is None and tape.gradient(fake_term, a_real) is None


def test_lecam_anchors_are_zero_debiased_moving_averages_and_survive_a_checkpoint(tmp_path):
    """The first update's anchors are that step's scores themselves (debiased); the second's the decay-weighted
    average of both; a checkpoint keeps them, and a fresh model restored from it reads the same anchors."""
    from models.training import Checkpoints

    cfg = SMALL.replace(lecam_weight=0.3, lecam_decay=0.9)
    gan = _gan(cfg)
    first = [float(v) for v in gan.lecam_anchors(tf.constant(2.0), tf.constant(-1.0))]
    assert first == pytest.approx([2.0, -1.0])
    second = [float(v) for v in gan.lecam_anchors(tf.constant(0.0), tf.constant(1.0))]
    weights = (0.9 * 0.1, 0.1)  # the older step's weight, the newer's, before debiasing by 1 - 0.9²
    assert second == pytest.approx([(weights[0] * 2.0) / 0.19, (weights[0] * -1.0 + weights[1] * 1.0) / 0.19])
    Checkpoints(str(tmp_path)).save(gan, 7)
    fresh = _gan(cfg)
    assert Checkpoints(str(tmp_path)).restore_latest(fresh) == 7
    assert fresh.training_state() == gan.training_state()  # exact: JSON keeps a float32 value whole
    assert fresh.training_state()["lecam_updates"] == 2.0 and _gan(cfg).training_state()["lecam_updates"] == 0.0
    with pytest.raises(ValueError, match="lecam_decay in"):
        _gan(SMALL.replace(lecam_weight=0.3, lecam_decay=1.0))


def test_lecam_weight_adds_its_term_to_d_only_and_is_reported_only_when_on():
    """Off, no `lecam` metric and D's first step is the plain one; on, D's loss carries weight x a finite positive
    term and D's first step differs. (G is scored by the updated D, so its step follows D's.)"""
    runs = _first_steps(lecam_weight=(0.0, 1.0))
    off, on = runs[0.0][0], runs[1.0][0]
    assert "lecam" not in off and np.isfinite(on["lecam"][-1]) and on["lecam"][-1] > 0.0
    # the same first forward: D's losses differ by exactly the term
    assert on["d_loss"][-1] - off["d_loss"][-1] == pytest.approx(on["lecam"][-1], rel=1e-4)
    assert _moved(runs[0.0], runs[1.0], "D") > 1e-6
