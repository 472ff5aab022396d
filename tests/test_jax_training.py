"""Training on a machine without TensorFlow (bench/train_gan_jax.py) and bringing the weights back.

The lent GPU machines run JAX, not TensorFlow: the Transform's training records go there as arrays
(bench/export_train_arrays.py), the JAX port of the step trains on them with `augment_example` ported to JAX
(bench/jax_input.py), and the EMA networks come back as arrays that bench/import_jax_weights.py turns into a
Trainer checkpoint. The pipeline's judge travels as variables, so that the Trainer's judge monitor can pick the
weights there (bench/jax_monitor.py). These tests pin each hand-over: the augmentation's resampling against
TensorFlow's ops, the arrays against the Transform output, the judge built with JAX against its SavedModel, and the
networks' outputs on both sides of the weights' trip.
"""
import glob
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed (requirements-dev.lock has it)")


def test_zoom_crop_reads_like_tf_resize_then_crop():
    import tensorflow as tf

    from bench.jax_input import zoom_crop

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    cases = [(16, 0, 0), (17, 1, 0), (18, 2, 1)]  # 1.1 x 16 rounds up to 18
    got = np.asarray(zoom_crop(images, *map(np.array, zip(*cases))))
    for i, (scaled, oy, ox) in enumerate(cases):
        want = tf.image.resize(images[i], [scaled, scaled], method="bilinear").numpy()[oy:oy + 16, ox:ox + 16]
        np.testing.assert_allclose(got[i], want, atol=1e-5, err_msg=f"case {cases[i]}")
    assert not np.allclose(got[1], images[1], atol=1e-2)  # a zoom that changed nothing would pass the first case only


def test_augment_batch_without_zoom_or_brightness_only_flips():
    import jax

    from bench.jax_input import augment_batch

    images = np.random.default_rng(1).uniform(-1, 1, (32, 8, 8, 3)).astype(np.float32)
    out = np.asarray(augment_batch(jax.random.PRNGKey(0), images, max_scale=1.0, brightness=0.0))
    same = [np.allclose(o, x, atol=1e-6) for o, x in zip(out, images)]
    flipped = [np.allclose(o, x[:, ::-1], atol=1e-6) for o, x in zip(out, images)]
    assert all(s or f for s, f in zip(same, flipped))
    assert 4 <= sum(flipped) <= 28  # about half flipped (32 fair coins)
    full = np.asarray(augment_batch(jax.random.PRNGKey(0), images))
    assert full.min() >= -1.0 and full.max() <= 1.0 and not np.allclose(full, out, atol=1e-3)


def test_batch_indices_read_every_record_once_an_epoch():
    from bench.jax_input import batch_indices

    batches = batch_indices(10, 3, seed=0)
    epoch = np.concatenate([next(batches) for _ in range(3)])  # 3 full batches; the 10th record waits
    assert len(set(epoch.tolist())) == 9
    with pytest.raises(ValueError, match="cannot fill one batch"):
        next(batch_indices(2, 3, seed=0))


CHILD = r"""
import sys
from bench.train_gan_jax import main
sys.exit(main(sys.argv[1:]))
"""


JUDGE_CHILD = r"""
import json, sys
import numpy as np
from bench.jax_monitor import JaxJudge, load_judge_arrays
from pipeline.presets import get_preset
arrays, out = sys.argv[1:]
carried = load_judge_arrays(arrays)
meta = json.loads(str(np.load(arrays)["meta"]))
judge = JaxJudge(get_preset("tiny").model, meta["vocab_sizes"], carried["weights"], carried["meta"])
images = carried["heldout"]["image"].astype(np.float32) / 127.5 - 1.0
np.savez(out, images=images, **judge(images))
"""


def _child(code: str, *args, timeout: int = 900):
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_jax_trained_weights_arrive_in_the_trainers_networks(tiny_run, tmp_path):
    """Export the tiny run's training records with its judge and a holdout, check the judge built with JAX against the
    SavedModel, train 3 steps with the JAX port and a judge check at each (KERAS_BACKEND=jax, in a child), import the
    picked weights as a checkpoint and load it into the Trainer's own model: the EMA networks output what they did
    there."""
    import keras

    from bench.eval_cost import find_artifacts, find_transform
    from bench.export_train_arrays import export_arrays
    from bench.import_jax_weights import import_weights
    from bench.jax_input import load_arrays, probe_inputs, to_uint8
    from components.gan_evaluation import vocabulary_files
    from models.judge import Judge
    from models.training import Checkpoints, build_gan, load_networks, make_dataset
    from pipeline.presets import get_preset

    paths, _, _ = tiny_run
    cfg = get_preset("tiny").model.replace(judge_holdout=0.2)
    found = find_transform(paths["pipeline_root"])
    judge_path = find_artifacts(paths["pipeline_root"], need_model=False)["judge"]
    train_files = sorted(glob.glob(os.path.join(found["examples"], "Split-train", "*.gz")))
    arrays = tmp_path / "train.npz"
    meta = export_arrays(train_files, cfg, vocabulary_files(found["transform_graph"], cfg.condition_attributes),
                         str(arrays), judge_path=judge_path)
    images, ids, loaded_meta = load_arrays(str(arrays))
    for records, count in (("train", meta["records"]), ("heldout", meta["heldout_records"])):
        reference = [b for b in make_dataset(train_files, cfg, 1000, training=False, records=records)][0]
        assert len(reference["image"]) == count
    assert loaded_meta == meta and meta["records"] == len(images) > 16 and meta["heldout_records"] >= 4
    reference = [b for b in make_dataset(train_files, cfg, 1000, training=False, records="train")][0]
    np.testing.assert_array_equal(images, to_uint8(reference["image"].numpy()))
    for attribute in cfg.condition_attributes:
        np.testing.assert_array_equal(ids[attribute], reference[f"{attribute}_id"].numpy())
        assert 0 <= ids[attribute].min() and ids[attribute].max() < meta["vocab_sizes"][attribute]

    _child(JUDGE_CHILD, arrays, tmp_path / "judged.npz")
    judged = np.load(tmp_path / "judged.npz")
    want = Judge(judge_path)(judged["images"])
    assert sorted(want) == sorted(k for k in judged.files if k != "images")
    for key, value in want.items():
        np.testing.assert_allclose(judged[key], value, atol=1e-4, err_msg=key)
    with pytest.raises(ValueError, match="does not fit a judge of judge_channels=8"):  # nor does one of other widths
        export_arrays(train_files, cfg.replace(judge_channels=8), vocabulary_files(
            found["transform_graph"], cfg.condition_attributes), str(tmp_path / "other.npz"), judge_path=judge_path)

    run = tmp_path / "run"
    _child(CHILD, "--arrays", arrays, "--preset", "tiny", "--steps", "3", "--log-every", "1", "--judge",
           "--set", "model.judge_every=1", "--set", "model.judge_holdout=0.2", "--set", "model.judge_pick_fid=heldout",
           "--weights-dtype", "float32", "--probe", "--out", run)
    log = json.loads((run / "train_log.json").read_text())
    assert [h["step"] for h in log["history"]] == [1, 2, 3] and log["stopped_by"] == "steps"
    assert log["backend"].startswith("keras") and "jax" in log["backend"]
    checks = log["judge_history"]
    assert [c["step"] for c in checks] == [1, 2, 3]
    assert all(0 <= c["articleType_control_accuracy"] <= 1 and c["fid_heldout"] > 0 for c in checks)
    picked = log["judge"]["picked"]
    assert log["judge"]["pick_fid"] == "fid_heldout" and log["judge"]["heldout_per_check"] == meta["heldout_records"]
    assert set(picked) == {"generator", "editor"} and set(picked.values()) <= {1, 2, 3}

    checkpoint = import_weights(str(run), str(tmp_path / "checkpoints"))
    assert Checkpoints(str(tmp_path / "checkpoints")).steps() == [3]
    gan = build_gan(cfg, meta["vocab_sizes"])
    before = gan.ema_generator.get_weights()
    assert sorted(load_networks(gan, str(checkpoint))) == ["ema_editor", "ema_generator"]
    assert not all(np.array_equal(a, b) for a, b in zip(before, gan.ema_generator.get_weights()))
    probe = np.load(run / "probe.npz")  # what the saved (picked) networks output there
    g_in, e_in = probe_inputs(cfg.resolution, cfg.z_dim, meta["vocab_sizes"])
    generated = keras.ops.convert_to_numpy(gan.ema_generator(g_in, training=False))
    np.testing.assert_allclose(generated, probe["generated"], atol=1e-4)
    edited = gan.export_editor(e_in, training=False)
    for key in ("image", "mask"):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(edited[key]), probe[f"edited_{key}"], atol=1e-4)
    assert np.abs(generated).mean() > 1e-3  # not a trivially zero output

    picked_weights = gan.ema_generator.get_weights()
    load_networks(gan, str(import_weights(str(run), str(tmp_path / "last"), generator="last")))
    same = all(np.array_equal(a, b) for a, b in zip(picked_weights, gan.ema_generator.get_weights()))
    assert same == (picked["generator"] == 3)  # the last generator is another one unless the last check won
