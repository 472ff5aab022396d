"""The networks are Keras 3 models even after `import tensorflow_transform` (which sets TF_USE_LEGACY_KERAS=1).

Runs in a fresh interpreter so the import order of this test session cannot hide the problem: there,
tensorflow_transform is imported *first*, exactly as inside a TFX Trainer's run_fn.
"""
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent("""
    import os
    import tensorflow_transform  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1)
    assert os.environ.get("TF_USE_LEGACY_KERAS") == "1", "tensorflow_transform no longer sets TF_USE_LEGACY_KERAS"
    import keras
    import tf_keras
    from models import networks
    from models.config import ModelConfig

    assert keras.__version__.startswith("3"), keras.__version__
    cfg = ModelConfig(resolution=16, z_dim=8, embed_dim=4, gen_channels=16, disc_channels=8, editor_channels=8)
    vocab = {"articleType": 3, "baseColour": 2}
    for build in (networks.build_generator, networks.build_editor, networks.build_discriminator):
        model = build(cfg, vocab)
        assert isinstance(model, keras.Model), type(model)
        assert not isinstance(model, tf_keras.Model), type(model)
        assert type(model).__module__.startswith("keras."), type(model).__module__
        for layer in model.layers:
            assert not isinstance(layer, tf_keras.layers.Layer), layer
            assert not type(layer).__module__.startswith("tf_keras"), (layer.name, type(layer).__module__)
    print("KERAS3_OK", keras.__version__)
""")


def test_networks_are_keras3_after_tensorflow_transform_import():
    pytest.importorskip("tensorflow_transform")
    pytest.importorskip("tf_keras")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "KERAS3_OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]
