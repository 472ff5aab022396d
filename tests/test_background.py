"""Background clean-up (models/background.py): the mask, the training pairs, the score, the serving input, and
an editor that learns the pairs."""
import glob

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from models import background as bg  # noqa: E402
from models import image_ops  # noqa: E402


def _product_on_white(size=16):
    """White image; a dark square from 4 to 12 with a white hole (a white print on a dark tee) at 7..9."""
    image = np.ones((1, size, size, 3), np.float32)
    image[0, 4:12, 4:12] = -0.6
    image[0, 7:9, 7:9] = 1.0
    return tf.constant(image)


def _sample_images(sample_catalog, count=48, resolution=16):
    files = sorted(glob.glob(str(sample_catalog / "images" / "*.jpg")))[:count]
    return tf.stack([image_ops.decode_and_resize(tf.io.read_file(f), resolution) for f in files])


def test_background_is_the_white_connected_to_the_border_not_every_white_pixel():
    image = _product_on_white()
    mask = bg.background_mask(image).numpy()[0, ..., 0]
    assert mask[0, 0] == 1 and mask[15, 15] == 1 and mask[2, 8] == 1
    assert mask[5, 5] == 0  # the product
    assert mask[7, 7] == 0 and mask[8, 8] == 0  # white inside the product stays product
    assert mask.sum() == 16 * 16 - 8 * 8
    assert float(bg.eligible(image)[0]) == 1.0
    coloured = image.numpy().copy()
    coloured[0, :, :2] = -1.0  # a dark left border: not a photo on white
    assert float(bg.eligible(tf.constant(coloured))[0]) == 0.0


def test_clean_up_pairs_keep_the_product_and_put_the_background_on_a_random_ground(sample_catalog):
    images = _sample_images(sample_catalog)
    pairs = bg.clean_up_pairs(images, seed=(1, 2))
    masks, eligible = pairs["masks"].numpy(), pairs["eligible"].numpy()
    assert 0.3 < eligible.mean() < 1.0  # most catalog photos are on white, not all
    product = 1.0 - masks
    for key in ("inputs", "targets"):  # the product pixels are the photo's own in both
        np.testing.assert_allclose(pairs[key].numpy() * product, images.numpy() * product, atol=1e-6)
    targets, inputs = pairs["targets"].numpy(), pairs["inputs"].numpy()
    assert np.all(targets[np.broadcast_to(masks, targets.shape) > 0] == 1.0)  # pure white target background
    used = eligible > 0
    moved = np.abs(inputs - images.numpy()).mean(axis=(1, 2, 3))
    assert np.all(moved[used] > 0.05)  # the input's background really changed
    again = bg.clean_up_pairs(images, seed=(1, 2))
    np.testing.assert_array_equal(again["inputs"].numpy(), inputs)  # seeded: the evaluator's pairs repeat
    assert not np.array_equal(bg.clean_up_pairs(images, seed=(3, 2))["inputs"].numpy(), inputs)


def test_clean_up_scores_tell_a_clean_background_from_a_cluttered_one(sample_catalog):
    images = _sample_images(sample_catalog)
    pairs = bg.clean_up_pairs(images, seed=(0, 0))
    used = pairs["eligible"].numpy() > 0
    perfect = {k: v.numpy()[used] for k, v in bg.clean_up_scores(pairs["targets"], images, pairs["masks"]).items()}
    assert np.all(perfect["clean"] == 1) and np.all(perfect["background_l1"] == 0) and np.all(
        perfect["product_l1"] < 1e-6)
    cluttered = {k: v.numpy()[used] for k, v in bg.clean_up_scores(pairs["inputs"], images, pairs["masks"]).items()}
    assert cluttered["clean"].mean() < 0.2 and cluttered["background_l1"].mean() > 0.5
    blank = bg.clean_up_scores(tf.ones_like(images), images, pairs["masks"])  # white everywhere: product lost
    assert float(tf.reduce_mean(tf.boolean_mask(blank["product_l1"], used))) > 0.3


def test_serving_background_values_are_keep_or_white_and_anything_else_is_refused():
    flags = bg.background_flags(tf.constant(["", "keep", " White", "white"])).numpy()
    assert flags.shape == (4, 1) and flags[:, 0].tolist() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown background: 'blue'. Valid values: keep, white"):
        bg.background_flags(tf.constant(["white", "blue"]))


def _train_clean_up(sample_catalog, mask_weight: float, steps: int = 60):
    """The editor trained on its clean-up terms alone (L1 + mask_weight x the keep-mask's cross-entropy), `steps`
    Adam steps on 48 real photos at 16x16. -> (the GAN, the photos, [(L1, cross-entropy)] per step)."""
    from models.config import ModelConfig
    from models.gan import build_vitrine_gan

    cfg = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=8, editor_channels=8,
                      batch_size=16, background_share=1.0, seed=0)
    gan = build_vitrine_gan(cfg, {"articleType": 3, "baseColour": 3})
    images = _sample_images(sample_catalog)
    optimizer = keras.optimizers.Adam(2e-3)
    optimizer.build(gan.editor.trainable_variables)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            l1, mask_bce = gan._background_loss(batch)
            loss = l1 + mask_weight * mask_bce
        optimizer.apply_gradients(zip(tape.gradient(loss, gan.editor.trainable_variables),
                                      gan.editor.trainable_variables))
        return l1, mask_bce

    terms = [tuple(float(t) for t in step(tf.gather(images, np.random.default_rng(i).choice(len(images), 16,
                                                                                          replace=False))))
             for i in range(steps)]
    return gan, images, terms


def _edit_unseen_clutters(gan, images, background: float):
    """The trained editor on fixed clutters (seed 5) of `images`, asked for white (1) or to keep (0) and to keep every
    attribute. -> (the pairs, which of them are used (white border), the editor's outputs)."""
    pairs = bg.clean_up_pairs(images, seed=(5, 5))
    keep_all = {a: tf.zeros([len(images), 3]) for a in ("articleType", "baseColour")}
    out = gan._edit(pairs["inputs"], keep_all, training=False, background=tf.fill([len(images), 1], background))
    return pairs, pairs["eligible"].numpy() > 0, out


def test_the_editor_learns_the_clean_up_pairs(sample_catalog):
    """The editor's clean-up L1 alone, 60 Adam steps on 48 real photos at 16x16: its L1 to the targets falls to
    well under half, and more background pixels come out white than in the cluttered inputs."""
    gan, images, terms = _train_clean_up(sample_catalog, mask_weight=0.0)
    losses = [l1 for l1, _ in terms]
    print("clean-up L1 by step:", np.round(losses, 3).tolist())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    pairs, used, out = _edit_unseen_clutters(gan, images, background=1.0)
    cleaned = out["image"]
    after = bg.clean_up_scores(cleaned, images, pairs["masks"])["background_l1"].numpy()[used].mean()
    before = bg.clean_up_scores(pairs["inputs"], images, pairs["masks"])["background_l1"].numpy()[used].mean()
    print(f"background L1 to white: cluttered inputs {before:.3f}, cleaned {after:.3f}")
    assert after < 0.6 * before, (after, before)


def test_the_mask_term_teaches_the_keep_mask_where_the_background_is(sample_catalog):
    """With the keep-mask's cross-entropy to the pairs' masks added (weight 1), 60 Adam steps at 16x16: the term
    falls to under half, and on unseen clutters the editor asked for white keeps the product (mask near 1) and
    replaces the background (mask near 0), while asked to keep it keeps the background too."""
    gan, images, steps = _train_clean_up(sample_catalog, mask_weight=1.0)
    terms = [mask_bce for _, mask_bce in steps]
    print("keep-mask cross-entropy by step:", np.round(terms, 3).tolist())
    assert np.mean(terms[-5:]) < 0.5 * np.mean(terms[:5]), terms
    def mean_mask(flag, where):
        _, used, out = _edit_unseen_clutters(gan, images, background=flag)
        mask = out["mask"].numpy()[used]
        return float((mask * where).sum() / where.sum())

    pairs = bg.clean_up_pairs(images, seed=(5, 5))
    background = pairs["masks"].numpy()[pairs["eligible"].numpy() > 0]

    white_product, white_background = mean_mask(1.0, 1.0 - background), mean_mask(1.0, background)
    keep_background = mean_mask(0.0, background)
    print(f"keep-mask asked for white: product {white_product:.2f}, background {white_background:.2f}; "
          f"asked to keep: background {keep_background:.2f}")
    assert white_product - white_background > 0.3 and keep_background - white_background > 0.3
