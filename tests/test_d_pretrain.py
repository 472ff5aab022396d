"""D's classifier head start (model.d_cls_pretrain_steps): it teaches D's classifier alone, and only fresh runs."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from models import networks  # noqa: E402
from models.config import ModelConfig  # noqa: E402
from models.d_pretrain import pretrain_classifier  # noqa: E402
from models.gan import VitrineGAN  # noqa: E402

VOCAB = {"articleType": 4, "baseColour": 3}
CFG = ModelConfig(resolution=16, z_dim=8, embed_dim=4, gen_channels=16, disc_channels=8, editor_channels=8,
                  batch_size=16, log_every=10, d_lr=2e-3, diffaugment="translation")


def _learnable_dataset(n=64):
    """Labels a classifier can learn from the pixels: the type lights one quadrant, the colour one channel."""
    rng = np.random.default_rng(0)
    types, colours = rng.integers(0, 4, n), rng.integers(0, 3, n)
    images = rng.uniform(-1, -0.6, (n, 16, 16, 3)).astype("float32")
    for i, (t, c) in enumerate(zip(types, colours)):
        r, q = divmod(int(t), 2)
        images[i, r * 8:(r + 1) * 8, q * 8:(q + 1) * 8, :] = 0.2
        images[i, :, :, c] += 0.6
    return tf.data.Dataset.from_tensor_slices({
        "image": images, "articleType_id": types.astype("int64"), "baseColour_id": colours.astype("int64"),
    }).shuffle(n, seed=0).batch(16, drop_remainder=True).repeat()


def _gan():
    gan = VitrineGAN(networks.build_generator(CFG, VOCAB), networks.build_editor(CFG, VOCAB),
                     networks.build_discriminator(CFG, VOCAB), CFG, VOCAB)
    gan.compile()
    return gan


def _layer_weights(model, prefixes):
    return {w.path: np.array(w) for layer in model.layers if layer.name.startswith(prefixes)
            for w in layer.weights}


def test_head_start_trains_d_classifier_only():
    gan = _gan()
    untouched = {"generator": [np.array(w) for w in gan.generator.weights],
                 "editor": [np.array(w) for w in gan.editor.weights],
                 "ema_generator": [np.array(w) for w in gan.ema_generator.weights]}
    heads = _layer_weights(gan.discriminator, ("d_linear", "d_project_"))
    trunk = _layer_weights(gan.discriminator, ("d_from_rgb", "d_block", "d_final_conv", "d_classify_"))
    assert heads and trunk

    summary = pretrain_classifier(gan, _learnable_dataset(), steps=60)

    assert summary["steps"] == 60 and summary["seconds"] > 0
    first, last = summary["first_logged"], summary["last_logged"]
    assert last["d_cls"] < 0.5 * first["d_cls"], summary
    assert last["articleType_accuracy"] > 0.9 and last["baseColour_accuracy"] > 0.9, summary
    # D's classifier moved; its realism head and projection did not, nor G, E or D's own optimizer
    after = _layer_weights(gan.discriminator, ("d_from_rgb", "d_block", "d_final_conv", "d_classify_"))
    assert all(not np.array_equal(trunk[k], after[k]) for k in trunk if k.endswith("kernel"))
    after_heads = _layer_weights(gan.discriminator, ("d_linear", "d_project_"))
    assert all(np.array_equal(heads[k], after_heads[k]) for k in heads)
    for name, before in untouched.items():
        assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, getattr(gan, name).weights)), name
    assert int(gan.d_optimizer.iterations) == 0
    # the joint training still runs after it
    history = gan.fit(_learnable_dataset(), steps_per_epoch=2, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][-1]) and int(gan.d_optimizer.iterations) == 2
