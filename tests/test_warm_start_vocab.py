"""A warm start across a changed vocabulary (models/warm_start_vocab.py): the catalog grew, lost a value and Transform
renumbered the rest, and every value the base model knew still draws, edits and classifies as it did."""
import os

import numpy as np
import pytest
import tensorflow as tf

from models import warm_start_vocab as wsv
from models.config import ModelConfig
from models.training import KERAS_WEIGHTS_DIR, NETWORKS, build_gan, save_networks, warm_start, weights_checksum

CFG = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=16, editor_channels=8,
                  twin_cls_weight=1.0)
BASE = {"articleType": ["Tshirts", "Shirts", "Watches", "Heels"], "baseColour": ["Black", "White", "Blue"]}
# Shirts gone, Handbags and Sunglasses new, the rest renumbered (as a shift in counts does); Red new.
GROWN = {"articleType": ["Watches", "Handbags", "Tshirts", "Heels", "Sunglasses"],
         "baseColour": ["White", "Black", "Red", "Blue"]}
KNOWN = [("Tshirts", "Black"), ("Watches", "White"), ("Heels", "Blue"), ("Tshirts", "Blue")]


def _write_vocab(directory, vocab):
    os.makedirs(directory, exist_ok=True)
    files = {}
    for attribute, values in vocab.items():
        files[attribute] = os.path.join(directory, attribute)
        with open(files[attribute], "w") as f:
            f.write("\n".join(values) + "\n")
    return files


def _sizes(vocab):
    return {a: len(v) for a, v in vocab.items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A base model folder as the Trainer exports it (vocabulary assets + Keras weights), with trained-looking
    (random, not initial) weights so that every row differs."""
    tf.keras.utils.set_random_seed(3)
    root = str(tmp_path_factory.mktemp("base_model"))
    gan = build_gan(CFG, _sizes(BASE))
    rng = np.random.default_rng(0)
    for name in NETWORKS:
        network = getattr(gan, name)
        network.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in network.get_weights()])
    _write_vocab(os.path.join(root, "assets"), BASE)
    save_networks(gan, os.path.join(root, KERAS_WEIGHTS_DIR))
    return root, gan


def _one_hot(vocab, pairs):
    return {a: tf.one_hot([vocab[a].index(pair[i]) for pair in pairs], len(vocab[a]))
            for i, a in enumerate(CFG.condition_attributes)}


def _grown(tmp_path, base_dir):
    gan = build_gan(CFG, _sizes(GROWN))
    loaded, change = warm_start(gan, base_dir, _write_vocab(str(tmp_path / "vocab"), GROWN))
    return gan, loaded, change


def test_vocabulary_changes_name_what_moved():
    changes = wsv.vocabulary_changes(BASE, GROWN)
    assert changes["articleType"]["mapping"] == [2, -1, 0, 3, -1]
    assert changes["articleType"]["added"] == ["Handbags", "Sunglasses"]
    assert changes["articleType"]["dropped"] == ["Shirts"]
    assert changes["articleType"]["renumbered"] and changes["baseColour"]["renumbered"]
    assert changes["baseColour"]["added"] == ["Red"] and not changes["baseColour"]["dropped"]
    assert not wsv.unchanged(changes) and wsv.unchanged(wsv.vocabulary_changes(BASE, BASE))
    # Appended values leave the known ids where they were.
    appended = wsv.vocabulary_changes(BASE, {a: v + ["New"] for a, v in BASE.items()})
    assert not any(c["renumbered"] for c in appended.values()) and not wsv.unchanged(appended)
    assert "articleType: 2 new (Handbags, Sunglasses); 1 gone (Shirts); renumbered" in wsv.describe(changes)


def test_remap_values_gathers_by_name_and_averages_new_rows():
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3)  # 4 values x 3 features
    out = wsv.remap_values(kernel, [2, -1, 0], axis=0)
    np.testing.assert_array_equal(out[0], kernel[2])
    np.testing.assert_array_equal(out[2], kernel[0])
    np.testing.assert_allclose(out[1], kernel.mean(axis=0))
    # Seeded spread: each new row its own, at the known rows' scale, the same for the same seed.
    rng = np.random.default_rng(5)
    table = rng.normal(0.3, 2.0, (200, 6)).astype(np.float32)
    spread = wsv.remap_values(table, [-1, 7, -1], axis=0, spread_seeds=[11, 12])
    np.testing.assert_array_equal(spread[1], table[7])
    assert not np.allclose(spread[0], spread[2]) and not np.allclose(spread[0], table.mean(axis=0))
    np.testing.assert_array_equal(spread, wsv.remap_values(table, [-1, 7, -1], axis=0, spread_seeds=[11, 12]))
    many = wsv.remap_values(table, [-1] * 400, axis=0, spread_seeds=list(range(400)))
    np.testing.assert_allclose(many.std(axis=0), table.std(axis=0), rtol=0.15)
    classifier = kernel.T  # 3 features x 4 values: the value axis is the last
    np.testing.assert_array_equal(wsv.remap_values(classifier, [3, 1], axis=-1), classifier[:, [3, 1]])


def test_every_known_value_draws_edits_and_classifies_as_before(tmp_path, base):
    base_dir, base_gan = base
    gan, loaded, change = _grown(tmp_path, base_dir)
    assert set(loaded) == set(NETWORKS)  # nothing fell back to fresh weights
    # A new value's embedding row is its own draw at the base rows' scale, the same in G and its moving average.
    new = [GROWN["articleType"].index(v) for v in ("Handbags", "Sunglasses")]
    rows = {n: next(np.asarray(v.numpy()) for v in getattr(gan, n).weights if "embed_articleType" in v.path)
            for n in ("generator", "ema_generator")}
    base_rows = next(np.asarray(v.numpy()) for v in base_gan.generator.weights if "embed_articleType" in v.path)
    noise = [(rows["generator"][i] - base_rows.mean(0)) / base_rows.std(0) for i in new]
    assert not np.allclose(noise[0], noise[1]) and 0.3 < np.std(noise[0]) < 3
    ema_rows = next(np.asarray(v.numpy()) for v in base_gan.ema_generator.weights if "embed_articleType" in v.path)
    np.testing.assert_allclose((rows["ema_generator"][new[0]] - ema_rows.mean(0)) / ema_rows.std(0), noise[0],
                               rtol=1e-4, atol=1e-4)
    assert change["articleType"] == {"added": ["Handbags", "Sunglasses"], "dropped": ["Shirts"], "renumbered": True}
    z = tf.random.stateless_normal((len(KNOWN), CFG.z_dim), seed=(1, 2))
    for name in ("generator", "ema_generator"):
        before = getattr(base_gan, name)({"z": z, **_one_hot(BASE, KNOWN)})
        after = getattr(gan, name)({"z": z, **_one_hot(GROWN, KNOWN)})
        np.testing.assert_allclose(after.numpy(), before.numpy(), atol=1e-5, err_msg=name)
    images = tf.random.stateless_uniform((len(KNOWN), 16, 16, 3), seed=(3, 4), minval=-1, maxval=1)
    extra = {"strength": tf.ones((len(KNOWN), 1)), "background": tf.zeros((len(KNOWN), 1))}
    for name in ("editor", "ema_editor"):
        before = getattr(base_gan, name)({"image": images, **_one_hot(BASE, KNOWN), **extra})
        after = getattr(gan, name)({"image": images, **_one_hot(GROWN, KNOWN), **extra})
        np.testing.assert_allclose(after["image"].numpy(), before["image"].numpy(), atol=1e-5, err_msg=name)
    before = base_gan.discriminator({"image": images, **_one_hot(BASE, KNOWN)})
    after = gan.discriminator({"image": images, **_one_hot(GROWN, KNOWN)})
    np.testing.assert_allclose(after["adv"].numpy(), before["adv"].numpy(), atol=1e-5)
    for output in [o for o in after if o != "adv"]:
        attribute = next(a for a in BASE if output.startswith(a))  # "<attr>" or "<attr>_twin"
        for index, value in enumerate(GROWN[attribute]):
            got = after[output].numpy()[:, index]
            if value in BASE[attribute]:  # a known value's logit, at its new id
                np.testing.assert_allclose(got, before[output].numpy()[:, BASE[attribute].index(value)],
                                           atol=1e-5, err_msg=f"{output} {value}")
            else:  # a new value starts as the mean of the known logits (an uninformed guess)
                np.testing.assert_allclose(got, before[output].numpy().mean(axis=1), atol=1e-5)


def test_unchanged_vocabularies_load_the_weights_as_saved(tmp_path, base):
    base_dir, base_gan = base
    gan = build_gan(CFG, _sizes(BASE))
    loaded, change = warm_start(gan, base_dir, _write_vocab(str(tmp_path / "vocab"), BASE))
    assert set(loaded) == set(NETWORKS)
    assert not any(c["added"] or c["dropped"] or c["renumbered"] for c in change.values())
    for name in NETWORKS:
        assert weights_checksum(getattr(gan, name)) == weights_checksum(getattr(base_gan, name)), name


def test_a_base_without_vocabulary_assets_loads_by_position(tmp_path, base):
    base_dir, _ = base
    bare = str(tmp_path / "bare")
    os.makedirs(bare)
    os.symlink(os.path.join(base_dir, "assets.extra"), os.path.join(bare, "assets.extra"))
    gan = build_gan(CFG, _sizes(GROWN))
    loaded, change = warm_start(gan, bare, _write_vocab(str(tmp_path / "vocab"), GROWN))
    # The conditioned networks do not fit by position; nothing is loaded half-way.
    assert change is None and loaded == []


def test_a_catalog_before_it_grew_keeps_every_row_without_the_values(tmp_path, sample_catalog):
    """data/subset.py: the catalog a grown one came from (RESULTS § 60 cut the shared catalog this way)."""
    from data.subset import main, read_rows

    _, rows = read_rows(sample_catalog)
    gone = {"Watches", "Handbags"}
    main([str(sample_catalog), str(tmp_path / "before"), "--without", "articleType=Watches,Handbags",
          "--without", "baseColour=Red"])
    _, kept = read_rows(tmp_path / "before")
    expected = [r["id"] for r in rows if r["articleType"] not in gone and r["baseColour"] != "Red"]
    assert [r["id"] for r in kept] == expected and 0 < len(kept) < len(rows)
    assert sorted(os.listdir(tmp_path / "before" / "images")) == sorted(f"{i}.jpg" for i in expected)
    with pytest.raises(SystemExit):
        main([str(sample_catalog), str(tmp_path / "bad"), "--without", "articleType"])
