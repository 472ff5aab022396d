"""The training loop's mechanics on real product photos at 16x16: resume after a kill, warm start, export."""
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from models.config import ModelConfig
from models.training import KERAS_WEIGHTS_DIR, NETWORKS, TRAINING_SUMMARY, train

ATTRS = ("articleType", "baseColour")
CFG = ModelConfig(resolution=16, z_dim=16, embed_dim=8, gen_channels=32, disc_channels=16, editor_channels=8,
                  batch_size=8, train_steps=4, checkpoint_every=2, sample_every=2, log_every=2, r1_every=2)


@pytest.fixture(scope="module")
def transformed(tmp_path_factory, sample_catalog):
    """Transformed-examples-like TFRecords (what Transform writes) from 48 real sample photos, plus vocab files."""
    import csv

    root = tmp_path_factory.mktemp("transformed")
    rows = list(csv.DictReader(open(sample_catalog / "styles.csv")))[:48]
    vocab = {a: sorted({r[a] for r in rows}) for a in ATTRS}
    files = {}
    for a in ATTRS:
        files[a] = str(root / a)
        with open(files[a], "w") as f:
            f.write("\n".join(vocab[a]) + "\n")
    path = str(root / "train.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for r in rows:
            image = Image.open(sample_catalog / "images" / f"{r['id']}.jpg").convert("RGB").resize((16, 16))
            pixels = np.asarray(image, np.float32) / 127.5 - 1.0
            feature = {"image": tf.train.Feature(float_list=tf.train.FloatList(value=pixels.reshape(-1)))}
            for a in ATTRS:
                feature[f"{a}_id"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[vocab[a].index(r[a])]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path, files


@pytest.fixture(scope="module")
def exported(transformed, tmp_path_factory):
    """A model trained two steps at CFG and exported (SavedModel and Keras weights): the base model for the warm
    starts, and the model the signature test loads. A test that changes it works on a copy."""
    path, files = transformed
    root = tmp_path_factory.mktemp("exported")
    export = str(root / "export")
    train(CFG.replace(train_steps=2), path, files, str(root / "work"), serving_dir=export)
    return export


def _weights(directory):
    import h5py

    values = {}
    for name in NETWORKS:
        with h5py.File(os.path.join(directory, f"{name}.weights.h5")) as f:
            f.visititems(lambda key, obj: values.__setitem__(f"{name}/{key}", obj[()]) if hasattr(obj, "shape") else None)
    return values


def test_resume_after_kill_continues_from_saved_step(transformed, tmp_path):
    path, files = transformed
    work = str(tmp_path / "work")
    script = textwrap.dedent(f"""
        from models.config import ModelConfig
        from models.training import train
        cfg = ModelConfig.from_dict({CFG.replace(train_steps=10_000).to_dict()!r})
        train(cfg, {path!r}, {files!r}, {work!r})
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    done = os.path.join(work, "checkpoints", "step-00000002", "DONE")
    deadline = time.time() + 240
    try:
        while not os.path.exists(done):
            assert child.poll() is None, "training process died before its first checkpoint"
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.5)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    saved = sorted(n for n in os.listdir(os.path.join(work, "checkpoints")) if n.startswith("step-"))
    last = int(saved[-1][len("step-"):]) if os.path.exists(
        os.path.join(work, "checkpoints", saved[-1], "DONE")) else int(saved[-2][len("step-"):])
    summary = train(CFG.replace(train_steps=last + 2), path, files, work)
    assert summary["resumed_from_step"] == last >= 2
    assert summary["steps"] == last + 2


def test_warm_start_loads_the_base_models_weights(transformed, exported, tmp_path):
    path, files = transformed
    base = shutil.copytree(exported, str(tmp_path / "base_export"))  # changed below
    assert os.path.exists(os.path.join(base, "saved_model.pb"))
    # zero further steps: what is exported is exactly what was loaded from the base model
    again = str(tmp_path / "again_export")
    summary = train(CFG.replace(train_steps=0, seed=7), path, files, str(tmp_path / "w2"), serving_dir=again,
                    base_model=base)
    assert sorted(summary["warm_started"]) == sorted(NETWORKS)
    before, after = _weights(os.path.join(base, KERAS_WEIGHTS_DIR)), _weights(os.path.join(again, KERAS_WEIGHTS_DIR))
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    assert os.path.exists(os.path.join(again, TRAINING_SUMMARY))
    # a base model exported before the editor had a moving average: that average starts from its editor
    os.remove(os.path.join(base, KERAS_WEIGHTS_DIR, "ema_editor.weights.h5"))
    older = str(tmp_path / "older_export")
    summary = train(CFG.replace(train_steps=0, seed=7), path, files, str(tmp_path / "w3"), serving_dir=older,
                    base_model=base)
    assert "ema_editor" not in summary["warm_started"] and "editor" in summary["warm_started"]
    weights = _weights(os.path.join(older, KERAS_WEIGHTS_DIR))
    editor = sorted(k for k in weights if k.startswith("editor/"))
    assert editor and all(np.array_equal(weights[k], weights["ema_" + k]) for k in editor)
    # a base model whose editor does not fit this architecture (as one saved before the editor had its
    # background input): G and D warm start, the editor trains from fresh weights, with a warning
    from models.networks import build_editor
    from models.training import read_vocabulary

    sizes = {a: len(read_vocabulary(files[a])) for a in ATTRS}
    misfit = build_editor(CFG.replace(editor_channels=4), sizes)
    for name in ("editor", "ema_editor"):
        misfit.save_weights(os.path.join(base, KERAS_WEIGHTS_DIR, f"{name}.weights.h5"))
    summary = train(CFG.replace(train_steps=0, seed=7), path, files, str(tmp_path / "w4"),
                    serving_dir=str(tmp_path / "misfit_export"), base_model=base)
    assert sorted(summary["warm_started"]) == ["discriminator", "ema_generator", "generator"]
    fresh = _weights(os.path.join(str(tmp_path / "misfit_export"), KERAS_WEIGHTS_DIR))
    assert all(np.array_equal(before[k], fresh[k]) for k in before if k.startswith("generator/"))


def test_a_warm_start_can_carry_the_base_models_step_counts_and_go_on_averaging(transformed, exported, tmp_path):
    """model.warm_start_counts: an export records each network's step count at its exported weights; a warm start
    that carries them (the default) averages its first step at the decay the base had reached, (1 + 3) / (ramp + 3)
    after the base's 2 steps. Counting afresh averages it at 2 / (ramp + 1): the average restarts."""
    path, files = transformed
    with open(os.path.join(exported, TRAINING_SUMMARY)) as f:
        assert json.load(f)["network_steps"] == {"generator": 2, "discriminator": 2, "editor": 2}
    base = _weights(os.path.join(exported, KERAS_WEIGHTS_DIR))
    for carry, count in ((True, 2), (False, 0)):
        out = str(tmp_path / f"export_{carry}")
        summary = train(CFG.replace(train_steps=1, warm_start_counts=carry), path, files, str(tmp_path / f"w_{carry}"),
                        serving_dir=out, base_model=exported)
        assert summary["warm_start_network_steps"] == ({"generator": 2, "editor": 2, "discriminator": 2} if carry
                                                       else None)
        assert summary["network_steps"] == {"generator": count + 1, "discriminator": count + 1, "editor": count + 1}
        after = _weights(os.path.join(out, KERAS_WEIGHTS_DIR))
        decay = (2.0 + count) / (CFG.ema_ramp + 1.0 + count)
        for network in ("generator", "editor"):
            keys = [k for k in after if k.startswith(f"ema_{network}/")]
            assert keys
            gap = max(float(np.abs(decay * base[k] + (1.0 - decay) * after[k[len("ema_"):]] - after[k]).max())
                      for k in keys)
            assert gap <= 1e-5, (carry, network, gap)


def test_base_network_steps_reads_older_summaries_at_their_exported_picks(tmp_path):
    """A model exported before session 59 records no step counts: G and D count the exported generator's step
    (the judge's pick where one was put back), E the exported editor's step less its warm-up."""
    from models.training import base_network_steps

    assert base_network_steps(str(tmp_path)) is None
    (tmp_path / "assets.extra").mkdir()
    summary = {"steps": 7162, "config": {"editor_from_step": 300}, "judge_monitor": {"restored": {"generator": 4400}}}
    (tmp_path / TRAINING_SUMMARY).write_text(json.dumps(summary))
    assert base_network_steps(str(tmp_path)) == {"generator": 4400, "discriminator": 4400, "editor": 6862}


def test_d_classifier_head_start_runs_on_fresh_runs_only(transformed, exported, tmp_path):
    """model.d_cls_pretrain_steps: a fresh run records its head start; a resumed run and a warm-started D skip it
    (their D has trained already). What the head start trains is pinned in tests/test_d_pretrain.py."""
    path, files = transformed
    cfg = CFG.replace(train_steps=2, d_cls_pretrain_steps=3)
    work = str(tmp_path / "work")
    summary = train(cfg, path, files, work)
    assert summary["d_cls_pretrain"]["steps"] == 3 and summary["steps"] == 2
    assert np.isfinite(summary["d_cls_pretrain"]["last_logged"]["d_cls"])
    resumed = train(cfg.replace(train_steps=3), path, files, work)
    assert resumed["resumed_from_step"] == 2 and resumed["d_cls_pretrain"] is None
    warm = train(cfg.replace(train_steps=1), path, files, str(tmp_path / "w2"), base_model=exported)
    assert "discriminator" in warm["warm_started"] and warm["d_cls_pretrain"] is None


def test_exported_model_cleans_backgrounds_through_edit_background(exported):
    """The SavedModel's `edit_background` takes `background` "white" / "keep" ("" = keep) besides `edit`'s inputs;
    the two requests edit differently, "keep" through it is `edit`, and an unknown value names the valid ones."""
    model = tf.saved_model.load(exported)
    assert {"generate", "edit", "edit_background", "serving_default"} <= set(model.signatures)
    image = tf.io.encode_png(tf.cast(tf.fill([16, 16, 3], 200), tf.uint8))
    inputs = {"image_bytes": tf.stack([image, image]), "strength": tf.ones([2]),
              **{a: tf.constant(["", ""]) for a in ATTRS}}
    white = model.signatures["edit_background"](background=tf.constant(["white", "white"]), **inputs)
    keep = model.signatures["edit_background"](background=tf.constant(["keep", ""]), **inputs)
    plain = model.signatures["edit"](**inputs)
    np.testing.assert_array_equal(keep["images"].numpy(), plain["images"].numpy())
    assert not np.array_equal(white["images"].numpy(), keep["images"].numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Unknown background: \\?'green"):
        model.signatures["edit_background"](background=tf.constant(["white", "green"]), **inputs)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one value per image"):
        model.signatures["edit_background"](background=tf.constant(["white"]), **inputs)


@pytest.fixture(scope="module")
def judge_dir(transformed, tmp_path_factory):
    """A real judge (the JudgeTrainer's code) trained for a few steps on the same 48 photos."""
    from models.judge import train_judge

    path, files = transformed
    export = str(tmp_path_factory.mktemp("judge") / "judge")
    train_judge(CFG.replace(judge_steps=3, judge_channels=8), path, path, files, export)
    return export


def test_judge_training_logs_its_progress(transformed, tmp_path, caplog):
    """A long judge is not a silent stretch of the pipeline: a line per tenth of its steps, the last at the end."""
    from models.judge import train_judge

    path, files = transformed
    with caplog.at_level(logging.INFO, logger="vitrine.judge"):
        train_judge(CFG.replace(judge_steps=20, judge_channels=8), path, path, files, str(tmp_path / "judge"))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("judge step ")]
    assert [line.split()[2] for line in lines] == [f"{step}/20" for step in range(2, 21, 2)]
    assert "ETA 0s" in lines[-1] and "articleType_accuracy=" in lines[-1] and "loss=" in lines[-1]


def test_judge_monitor_stops_early_and_exports_the_best_weights(transformed, judge_dir, tmp_path):
    path, files = transformed
    # min_delta above the score's range and no fidelity tie-break: the first check is the best, the second has no
    # gain -> stop at step 2
    cfg = CFG.replace(train_steps=50, judge_every=1, judge_samples=16, early_stop_patience=1, early_stop_min_delta=2.0,
                      judge_control_tolerance=0.0)
    export = str(tmp_path / "export")
    summary = train(cfg, path, files, str(tmp_path / "work"), serving_dir=export, judge_model=judge_dir)
    monitor = summary["judge_monitor"]
    assert summary["stopped_by_judge"] and summary["steps"] == 2
    assert [check["step"] for check in monitor["history"]] == [1, 2]
    for check in monitor["history"]:
        assert 0.0 <= check["judge_score"] <= 1.0
        assert set(check) >= {"articleType_control_accuracy", "baseColour_control_accuracy", "edit_success", "kid", "fid"}
        assert check["fid"] >= 0.0 and np.isfinite(check["kid"])
    assert monitor["best"] == {"generator": 1, "editor": 1} and monitor["restored"] == {"generator": 1, "editor": 1}
    # the editor is exported as its moving average, and the raw editor is scored beside it
    assert all("edit_success_raw" in check for check in monitor["history"])
    with open(os.path.join(export, TRAINING_SUMMARY)) as f:
        exported = json.load(f)["exported_checksums"]
    # step 2 changed every network; what was exported are the weights the judge scored best (step 1)
    assert exported == monitor["best_checksums"]


def test_judge_monitor_without_early_stop_trains_every_step(transformed, judge_dir, tmp_path):
    path, files = transformed
    # every check gains, and no fidelity tie-break: the last check is each side's best
    cfg = CFG.replace(train_steps=4, judge_every=2, judge_samples=16, early_stop_min_delta=-1.0,
                      judge_control_tolerance=0.0)
    summary = train(cfg, path, files, str(tmp_path / "work"), judge_model=judge_dir)
    monitor = summary["judge_monitor"]
    assert summary["steps"] == 4 and not summary["stopped_by_judge"]
    assert [check["step"] for check in monitor["history"]] == [2, 4]
    assert monitor["best"] == {"generator": 4, "editor": 4} and not monitor["restored_best"]


def test_a_warm_started_run_judges_the_base_model_first_and_can_keep_it(transformed, judge_dir, exported,
                                                                        tmp_path):
    """A scheduled retrain checks its starting weights (the base model's) at step 0, before its first step. When no
    later check gains on it (min_delta above the score's range), each side's pick keeps step 0: the export is the
    base model, editor included (a step-0 check is not the editor's warm-up, which here covers step 1)."""
    path, files = transformed
    cfg = CFG.replace(train_steps=2, judge_every=1, judge_samples=16, early_stop_min_delta=2.0, early_stop_patience=0,
                      judge_control_tolerance=0.0, editor_from_step=1)
    export = str(tmp_path / "export")
    summary = train(cfg, path, files, str(tmp_path / "work"), serving_dir=export, base_model=exported,
                    judge_model=judge_dir)
    monitor = summary["judge_monitor"]
    assert [check["step"] for check in monitor["history"]] == [0, 1, 2] and summary["steps"] == 2
    assert monitor["best"] == {"generator": 0, "editor": 0} and monitor["restored"] == {"generator": 0, "editor": 0}
    base, after = _weights(os.path.join(exported, KERAS_WEIGHTS_DIR)), _weights(os.path.join(export, KERAS_WEIGHTS_DIR))
    assert base.keys() == after.keys() and all(np.array_equal(base[k], after[k]) for k in base)
    # the counts the base's weights had (2 steps each), carried and kept with the pick of step 0
    assert summary["warm_start_network_steps"] == {"generator": 2, "discriminator": 2, "editor": 2}
    assert summary["network_steps"] == {"generator": 2, "discriminator": 2, "editor": 2}


def test_judge_monitor_keeps_the_generator_and_the_editor_best_at_their_own_steps(transformed, judge_dir):
    """The generator side peaks at check 1, the editor side at check 2, the last check is neither side's best: the
    exported networks must be the generator side's weights of check 1 and the editor side's of check 2. Scores are
    scripted here (the judge's own scoring runs in the tests above); the weights are real networks'."""
    from models.export import read_vocabulary
    from models.judge_monitor import SIDES, JudgeMonitor, fixed_examples
    from models.training import build_gan

    path, files = transformed
    cfg = CFG.replace(judge_every=1, judge_samples=8)
    sizes = {a: len(read_vocabulary(files[a])) for a in ATTRS}
    scripted = {1: (0.9, 0.1), 2: (0.2, 0.9), 3: (0.5, 0.5)}  # step -> (control accuracy, edit success)

    class ScriptedScores(JudgeMonitor):
        def score(self):
            control, edit = scripted[self.step]
            return {"step": self.step, **{f"{a}_control_accuracy": control for a in ATTRS}, "edit_success": edit,
                    "fid": 5.0, "judge_score": (2 * control + edit) / 3}

    gan = build_gan(cfg, sizes)
    monitor = ScriptedScores(judge_dir, cfg, sizes, fixed_examples(path, cfg, 8), tf.summary.create_noop_writer())
    monitor.set_model(gan)
    seen = {}
    for step in scripted:
        for name in NETWORKS:  # every network moves between checks
            network = getattr(gan, name)
            network.set_weights([w + 0.01 * step for w in network.get_weights()])
        seen[step] = {name: getattr(gan, name).get_weights() for name in NETWORKS}
        monitor.step = step
        monitor.check()
    summary = monitor.finish()
    assert summary["best"] == {"generator": 1, "editor": 2} and summary["restored"] == {"generator": 1, "editor": 2}
    for side, step in (("generator", 1), ("editor", 2)):
        for name in SIDES[side]:
            restored = getattr(gan, name).get_weights()
            assert all(np.array_equal(a, b) for a, b in zip(restored, seen[step][name])), (name, step)


def test_logged_losses_are_means_over_the_steps_since_the_last_log_line(transformed, tmp_path):
    """A run is one Keras epoch: without a reset each logged loss is the mean since step 1 and stops moving. The
    logger resets the loss trackers after each log line, so a value logged at step 4 covers steps 3-4 only."""
    import keras

    from models.export import read_vocabulary
    from models.training import Checkpoints, ProgressLogger, build_gan, condition_grid_inputs, make_dataset

    path, files = transformed
    cfg = CFG.replace(log_every=2, sample_every=100, checkpoint_every=100)
    sizes = {a: len(read_vocabulary(files[a])) for a in ATTRS}
    gan = build_gan(cfg, sizes)
    grid = condition_grid_inputs(cfg, sizes, 2, 2, 0)
    grid.update({"__rows__": 2, "__cols__": 2})
    logger = ProgressLogger(cfg, 5, 0, Checkpoints(str(tmp_path / "ckpt")), grid, str(tmp_path),
                            tf.summary.create_noop_writer())
    counts = []

    class Counts(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):  # runs after the logger
            counts.append(int(gan.trackers["d_loss"].count.numpy()))

    gan.fit(make_dataset(path, cfg, cfg.batch_size, training=True), steps_per_epoch=5, epochs=1, verbose=0,
            callbacks=[logger, Counts()])
    assert counts == [1, 0, 1, 0, 0]  # log lines at steps 2, 4 and the last step (5)
    assert np.isfinite(logger.last_logs["d_loss"])


@pytest.mark.parametrize("tolerance, expected", [(0.02, 4), (0.0, 3)])
def test_generator_pick_breaks_control_ties_by_fid(transformed, judge_dir, tolerance, expected):
    """Checks within the tolerance of the best control seen tie and go to the lower FID; a check that raises the best
    control past the tolerance replaces the pick; tolerance 0 = control alone (the editor side is not affected)."""
    from models.export import read_vocabulary
    from models.judge_monitor import JudgeMonitor, fixed_examples
    from models.training import build_gan

    path, files = transformed
    cfg = CFG.replace(judge_every=1, judge_samples=8, judge_control_tolerance=tolerance, judge_fid_min_gain=0.1)
    sizes = {a: len(read_vocabulary(files[a])) for a in ATTRS}
    # step -> (mean control accuracy, FID): 2 ties 1 with a lower FID; 3 raises the top to 0.90, leaving 2 behind;
    # 4 ties 3 with an FID 25 % lower; 5 ties but is not 10 % lower than 4; 6 has the lowest FID but is out of the tie
    scripted = {1: (0.80, 5.0), 2: (0.81, 3.0), 3: (0.90, 8.0), 4: (0.89, 6.0), 5: (0.895, 5.6), 6: (0.87, 1.0)}

    class ScriptedScores(JudgeMonitor):
        def score(self):
            control, fid = scripted[self.step]
            return {"step": self.step, **{f"{a}_control_accuracy": control for a in ATTRS}, "edit_success": 0.5,
                    "fid": fid, "judge_score": control}

    monitor = ScriptedScores(judge_dir, cfg, sizes, fixed_examples(path, cfg, 8), tf.summary.create_noop_writer())
    monitor.set_model(build_gan(cfg, sizes))
    for step in scripted:
        monitor.step = step
        monitor.check()
    assert monitor.best["generator"]["step"] == expected and monitor.best["editor"]["step"] == 1
    # every check but the last two gained on the generator side (with the tie-break); none after the editor's first
    assert monitor.checks_without_gain == (2 if tolerance else 3)


@pytest.mark.parametrize("min_steps, expected_steps", [(0, 1), (5, 5)])
def test_time_budget_stops_the_run_but_not_before_min_train_steps(transformed, tmp_path, min_steps, expected_steps):
    """A budget far below one step's time: alone it stops after the first step; with a step floor the run goes on
    to that floor (a slow machine trains longer rather than exporting a model too young to pass the bars)."""
    path, files = transformed
    cfg = CFG.replace(train_steps=50, max_train_seconds=1e-3, min_train_steps=min_steps, checkpoint_every=100)
    work = str(tmp_path / "work")
    summary = train(cfg, path, files, work)
    assert summary["steps"] == expected_steps and summary["stopped_by_time_budget"]
    assert summary["trained_past_time_budget"] == (min_steps > 0)
    # the stop checkpoints where it stopped, so a resumed run continues from there
    assert os.path.exists(os.path.join(work, "checkpoints", f"step-{expected_steps:08d}", "DONE"))


def _record_keys(dataset):
    return [hashlib.sha256(batch.numpy().tobytes()).hexdigest() for b in dataset for batch in b["image"]]


def test_held_out_records_are_a_fixed_disjoint_part_of_the_training_files(transformed):
    """judge_holdout splits the training records in two: "train" and "heldout" share none, together are all of
    them, and the same records are held out on every read."""
    from models.training import make_dataset

    path, _ = transformed
    cfg = CFG.replace(judge_holdout=0.25)
    everything = _record_keys(make_dataset(path, cfg, 8, training=False))
    kept = _record_keys(make_dataset(path, cfg, 8, training=False, records="train"))
    held = _record_keys(make_dataset(path, cfg, 8, training=False, records="heldout"))
    assert len(everything) == 48 and 4 <= len(held) <= 20  # about a quarter of 48
    assert not set(kept) & set(held) and sorted(kept + held) == sorted(everything)
    assert _record_keys(make_dataset(path, cfg, 8, training=False, records="heldout")) == held
    # off, "train" reads every record; training with a holdout never yields a held-out image
    assert len(_record_keys(make_dataset(path, CFG, 8, training=False, records="train"))) == 48
    trained_on = make_dataset(path, cfg, 8, training=True, records="train").take(12)
    assert not set(_record_keys(trained_on)) & set(held)


@pytest.mark.parametrize("changes, message", [
    ({"judge_pick_fid": "heldout"}, "judge_holdout > 0"),
    ({"judge_pick_fid": "eval"}, "'train' or 'heldout'"),
    ({"judge_holdout": 0.5}, r"\[0, 0.5\)"),
    ({"judge_pick_edit": "heldout"}, "judge_holdout > 0"),
    ({"judge_pick_edit": "eval", "judge_holdout": 0.25}, "judge_pick_edit must be one of"),
    ({"judge_also_pick": "judge_pick_edit=all"}, "judge_also_pick judge_pick_edit=all: .*judge_holdout > 0"),
    ({"judge_also_pick": "judge_pick_edit=all", "judge_holdout": 0.25, "restore_best": False}, "restore_best=True"),
    ({"judge_also_pick": "judge_fid_min_gain=some"}, "takes a float"),
])
def test_bad_holdout_settings_are_refused_before_training(transformed, tmp_path, changes, message):
    path, files = transformed
    with pytest.raises(ValueError, match=message):
        train(CFG.replace(**changes), path, files, str(tmp_path / "work"))
    assert not os.path.exists(tmp_path / "work" / "checkpoints")


def test_judge_monitor_scores_fidelity_on_held_out_records(transformed, judge_dir, tmp_path):
    from models.training import make_dataset

    path, files = transformed
    cfg = CFG.replace(train_steps=2, judge_every=1, judge_samples=16, judge_holdout=0.25, judge_pick_fid="heldout")
    summary = train(cfg, path, files, str(tmp_path / "work"), judge_model=judge_dir)
    monitor = summary["judge_monitor"]
    held = len(_record_keys(make_dataset(path, cfg, 8, training=False, records="heldout")))
    assert monitor["heldout_per_check"] == min(held, 16) and monitor["pick_fid"] == "fid_heldout"
    assert monitor["pick_edit"] == "edit_success"  # judge_pick_edit's default
    # the logged keep-mask means reach the editor watch (a 2-step editor starts at m ~ 0.05: no collapse)
    assert summary["editor_watch"] == {"identity_steps": 0, "identity_stretches": [], "collapsed_at_end": False}
    for check in monitor["history"]:
        assert check["fid_heldout"] >= 0.0 and np.isfinite(check["kid_heldout"])
        assert check["fid_heldout"] != check["fid"]  # other real images, other samples
        # the editor on every held-out record, and both edit sets pooled by their counts (8 training edits)
        assert 0.0 <= check["edit_success_heldout"] <= 1.0
        pooled = (8 * check["edit_success"] + min(held, 16) * check["edit_success_heldout"]) / (8 + min(held, 16))
        assert check["edit_success_all"] == pytest.approx(pooled)


def _run_scripted_checks(transformed, judge_dir, cfg, scores, before_check=None):
    """A held-out judge monitor whose checks return `scores[step]` (plus control 0.8 per attribute) at steps 1..n,
    checked in order (after `before_check(monitor)` if given); returns the monitor."""
    from models.export import read_vocabulary
    from models.judge_monitor import JudgeMonitor, fixed_examples
    from models.training import build_gan

    path, files = transformed
    sizes = {a: len(read_vocabulary(files[a])) for a in ATTRS}

    class ScriptedScores(JudgeMonitor):
        def score(self):
            return {"step": self.step, **{f"{a}_control_accuracy": 0.8 for a in ATTRS}, "judge_score": 0.8,
                    **scores[self.step]}

    monitor = ScriptedScores(judge_dir, cfg, sizes, fixed_examples(path, cfg, 8, records="train"),
                             tf.summary.create_noop_writer(), heldout=fixed_examples(path, cfg, 8, records="heldout"))
    monitor.set_model(build_gan(cfg, sizes))
    for step in sorted(scores):
        monitor.step = step
        if before_check:
            before_check(monitor)
        monitor.check()
    return monitor


@pytest.mark.parametrize("pick_fid, expected", [("train", 2), ("heldout", 3)])
def test_generator_pick_can_break_ties_by_held_out_fid(transformed, judge_dir, pick_fid, expected):
    """Three checks tie on control; the training-image FID favours step 2, the held-out FID step 3."""
    cfg = CFG.replace(judge_every=1, judge_samples=8, judge_holdout=0.25, judge_pick_fid=pick_fid)
    scripted = {1: (5.0, 5.0), 2: (3.0, 6.0), 3: (4.0, 4.0)}  # step -> (fid, fid_heldout)
    scores = {step: {"edit_success": 0.5, "fid": fid, "fid_heldout": held} for step, (fid, held) in scripted.items()}
    monitor = _run_scripted_checks(transformed, judge_dir, cfg, scores)
    assert monitor.best["generator"]["step"] == expected


@pytest.mark.parametrize("pick_edit, expected", [("train", 2), ("heldout", 3), ("all", 1)])
def test_editor_pick_follows_the_chosen_edit_set(transformed, judge_dir, pick_edit, expected):
    """Three checks; edits of training images favour step 2, of held-out records step 3, both pooled step 1."""
    cfg = CFG.replace(judge_every=1, judge_samples=8, judge_holdout=0.25, judge_pick_edit=pick_edit)
    scripted = {1: (0.6, 0.6, 0.7), 2: (0.8, 0.3, 0.5), 3: (0.2, 0.7, 0.4)}  # step -> (train, held-out, pooled)
    scores = {step: {"fid": 5.0, "edit_success": train, "edit_success_heldout": held, "edit_success_all": pooled}
              for step, (train, held, pooled) in scripted.items()}
    monitor = _run_scripted_checks(transformed, judge_dir, cfg, scores)
    assert monitor.best["editor"]["step"] == expected and monitor.finish()["pick_edit"] == monitor.edit_key


def test_editor_pick_waits_for_the_editor_to_train(transformed, judge_dir):
    """In the editor's warm-up (editor_from_step=2) the editor is its initial weights: its scores at steps 1-2 (the
    check at step 2 comes before E's first step) must not become its pick, however high; the generator side is
    judged throughout."""
    cfg = CFG.replace(judge_every=1, judge_samples=8, judge_holdout=0.25, editor_from_step=2)
    edits = {1: 0.9, 2: 0.8, 3: 0.3, 4: 0.5}
    scores = {step: {"fid": 5.0, "fid_heldout": 5.0, "edit_success": e, "edit_success_heldout": e,
                     "edit_success_all": e} for step, e in edits.items()}
    monitor = _run_scripted_checks(transformed, judge_dir, cfg, scores)
    assert monitor.best["editor"]["step"] == 4 and monitor.best["generator"]["step"] == 1


def test_one_run_keeps_its_last_weights_and_an_alternative_picks_weights_as_checkpoints(transformed, judge_dir,
                                                                                         tmp_path):
    """Scripted scores on real networks: the run's own pick (training-image edits) keeps the editor of step 2, the
    alternative (judge_pick_edit=all, pooled edits) the editor of step 3, and step 4 is the last. The export holds
    the run's own picks; checkpoints/unpicked holds step 4's weights and checkpoints/picked_by the alternative's
    editor beside the same generator side, each loadable as a checkpoint of its own."""
    from models.judge_monitor import SIDES
    from models.training import Checkpoints, finish_judge_monitor, load_networks

    cfg = CFG.replace(judge_every=1, judge_samples=8, judge_holdout=0.25, judge_also_pick="judge_pick_edit=all",
                      early_stop_min_delta=0.0)
    scripted = {1: (0.4, 0.4), 2: (0.8, 0.5), 3: (0.7, 0.9), 4: (0.3, 0.3)}  # step -> (edit_success, pooled)
    scores = {step: {"fid": 5.0, "edit_success": train, "edit_success_heldout": pooled, "edit_success_all": pooled}
              for step, (train, pooled) in scripted.items()}
    seen = {}

    def move(monitor):  # every network moves before each check, as training would
        for name in NETWORKS:
            network = getattr(monitor.model, name)
            network.set_weights([w + 0.01 for w in network.get_weights()])
        seen[monitor.step] = {name: getattr(monitor.model, name).get_weights() for name in NETWORKS}

    monitor = _run_scripted_checks(transformed, judge_dir, cfg, scores, before_check=move)
    checkpoints = Checkpoints(str(tmp_path / "checkpoints"))
    summary = finish_judge_monitor(monitor, monitor.model, checkpoints, 4)
    assert summary["best"] == {"generator": 1, "editor": 2}
    assert summary["unpicked_checkpoint"] == "unpicked/step-00000004"
    alternative = summary["alternatives"]["judge_pick_edit=all"]
    assert alternative == {"best": {"generator": 1, "editor": 3}, "differs": ["editor"],
                           "checkpoint": "picked_by/judge_pick_edit-all/step-00000004"}
    assert checkpoints.steps() == []  # neither is a resume point

    def holds(gan, expected):  # network -> the step whose weights it must hold
        return all(all(np.array_equal(a, b) for a, b in zip(getattr(gan, name).get_weights(), seen[step][name]))
                   for name, step in expected.items())

    generator_side = {name: 1 for name in SIDES["generator"]}
    assert holds(monitor.model, {**generator_side, **{name: 2 for name in SIDES["editor"]}})  # the export's
    from models.export import read_vocabulary
    from models.training import build_gan

    path, files = transformed
    for folder, expected in (("unpicked", {name: 4 for name in NETWORKS}),
                             ("picked_by/judge_pick_edit-all", {**generator_side,
                                                                **{name: 3 for name in SIDES["editor"]}})):
        gan = build_gan(cfg, {a: len(read_vocabulary(files[a])) for a in ATTRS})
        assert sorted(load_networks(gan, str(tmp_path / "checkpoints" / folder / "step-00000004"))) == sorted(NETWORKS)
        assert holds(gan, expected), folder


def test_a_trained_run_writes_what_its_alternative_pick_would_export(transformed, judge_dir, tmp_path):
    """The real monitor on a real 4-step run, with settings that fix the picks whatever the scores: the run's own
    (no tolerance, a gain of 2 needed) keeps check 1 on both sides; the alternative (a tolerance of 1, so every
    check ties, and any FID counts as closer) moves the generator side to the last check. Its checkpoint holds the
    last generator side beside the exported editor side; checkpoints/unpicked holds the last weights."""
    path, files = transformed
    cfg = CFG.replace(train_steps=4, judge_every=1, judge_samples=16, judge_control_tolerance=0.0,
                      judge_fid_min_gain=-1000.0, early_stop_min_delta=2.0,
                      judge_also_pick="judge_control_tolerance=1.0")
    export = tmp_path / "export"
    summary = train(cfg, path, files, str(tmp_path / "work"), serving_dir=str(export), judge_model=judge_dir)
    monitor = summary["judge_monitor"]
    assert monitor["best"] == {"generator": 1, "editor": 1} and monitor["restored"] == {"generator": 1, "editor": 1}
    assert monitor["unpicked_checkpoint"] == "unpicked/step-00000004"
    assert monitor["alternatives"] == {"judge_control_tolerance=1.0": {
        "best": {"generator": 4, "editor": 1}, "differs": ["generator"],
        "checkpoint": "picked_by/judge_control_tolerance-1.0/step-00000004"}}
    checkpoints = tmp_path / "work" / "checkpoints"
    exported = _weights(export / KERAS_WEIGHTS_DIR)
    last = _weights(checkpoints / "unpicked" / "step-00000004")
    alternative = _weights(checkpoints / "picked_by" / "judge_control_tolerance-1.0" / "step-00000004")
    for key, value in alternative.items():
        expected = last if key.split("/")[0] in ("generator", "ema_generator", "discriminator") else exported
        assert np.array_equal(value, expected[key]), key
    assert any(not np.array_equal(last[key], exported[key]) for key in last)  # step 4 is not step 1
    assert (checkpoints / "unpicked" / "step-00000004" / "DONE").read_text() == "4"


def test_a_resumed_run_keeps_the_judges_checks_and_exports_a_pick_made_before_the_kill(transformed, judge_dir,
                                                                                         tmp_path):
    """Settings that fix the picks whatever the scores (no tolerance, a gain of 2 needed): check 1 is each side's
    pick. A 4-step run checkpoints every step; its step-4 checkpoint is removed, as if it were killed after step 3.
    Resumed, it keeps checks 1-3, scores step 4 and exports the weights of check 1, which it never held in this
    process: they come back from the step-3 checkpoint. Before session 58 the resumed monitor started afresh and
    exported step 4's weights."""
    import shutil

    path, files = transformed
    cfg = CFG.replace(train_steps=4, judge_every=1, judge_samples=16, judge_control_tolerance=0.0,
                      judge_fid_min_gain=-1000.0, early_stop_min_delta=2.0, checkpoint_every=1,
                      judge_also_pick="judge_control_tolerance=1.0")
    work = tmp_path / "work"
    first = train(cfg, path, files, str(work), judge_model=judge_dir)["judge_monitor"]
    assert first["best"] == {"generator": 1, "editor": 1}
    # the last weights kept beside the picks carry the checks too, so a run continued from them weighs its picks
    kept = json.loads((work / "checkpoints" / "unpicked" / "step-00000004" / "judge_monitor.json").read_text())
    assert [check["step"] for check in kept["history"]] == [1, 2, 3, 4]
    shutil.rmtree(work / "checkpoints" / "step-00000004")  # killed after step 3's checkpoint
    export = tmp_path / "export"
    resumed = train(cfg, path, files, str(work), serving_dir=str(export), judge_model=judge_dir)
    monitor = resumed["judge_monitor"]
    assert resumed["resumed_from_step"] == 3 and resumed["steps"] == 4
    assert [check["step"] for check in monitor["history"]] == [1, 2, 3, 4]
    assert monitor["history"][:3] == first["history"][:3]
    assert monitor["best"] == {"generator": 1, "editor": 1} and monitor["restored"] == {"generator": 1, "editor": 1}
    assert monitor["best_checksums"] == first["best_checksums"]
    with open(os.path.join(export, TRAINING_SUMMARY)) as f:
        assert json.load(f)["exported_checksums"] == first["best_checksums"]
    # the alternative (every check ties, any FID is closer) moved its generator to each check, now to step 4
    assert monitor["alternatives"]["judge_control_tolerance=1.0"]["best"] == {"generator": 4, "editor": 1}


@pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")), reason="the guard is for machines without a GPU")
def test_gpu_only_switches_are_turned_off_on_a_cpu_with_a_warning(transformed, tmp_path, caplog):
    """The `gpu` preset's mixed precision and XLA, scheduled on a CPU-only node: XLA on the CPU made cpu-quick's
    step ~5x slower after a ~6-minute compile, so training turns both off, says so, and records what it used."""
    import keras

    path, files = transformed
    cfg = CFG.replace(train_steps=2, checkpoint_every=100, sample_every=100, mixed_precision=True, jit_compile=True)
    with caplog.at_level("WARNING", logger="vitrine.training"):
        summary = train(cfg, path, files, str(tmp_path / "work"))
    assert summary["steps"] == 2
    assert summary["config"]["jit_compile"] is False and summary["config"]["mixed_precision"] is False
    assert keras.config.dtype_policy().name == "float32"
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "jit_compile (XLA) requested but no GPU is visible" in warnings
    assert "mixed_precision requested but no GPU is visible" in warnings


def _bfloat16_cpu() -> bool:
    from models.precision import bfloat16_on_this_cpu

    return bfloat16_on_this_cpu() and not tf.config.list_logical_devices("GPU")


@pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")), reason="the setting is for machines without a GPU")
def test_bfloat16_on_cpu_trains_in_bfloat16_exactly_where_the_cpu_computes_in_it(transformed, tmp_path, caplog):
    """cpu-quick's model.bfloat16_on_cpu on this machine: mixed_bfloat16 on a CPU with AVX512_BF16 or AMX under
    oneDNN, float32 elsewhere; either way training says which in the log and records what it used."""
    import keras

    path, files = transformed
    cfg = CFG.replace(train_steps=2, checkpoint_every=100, sample_every=100, bfloat16_on_cpu=True)
    try:
        with caplog.at_level("INFO", logger="vitrine.training"):
            summary = train(cfg, path, files, str(tmp_path / "work"))
        policy = keras.config.dtype_policy().name
    finally:
        keras.mixed_precision.set_global_policy("float32")
    kept = _bfloat16_cpu()
    assert summary["steps"] == 2 and summary["config"]["mixed_precision"] is kept
    assert policy == ("mixed_bfloat16" if kept else "float32")
    said = " ".join(r.getMessage() for r in caplog.records)
    assert ("bfloat16 mixed precision: this CPU computes in it" if kept else "model.bfloat16_on_cpu leaves") in said
    assert "requested but" not in said  # no warning: nothing was asked for that this machine cannot do


@pytest.mark.skipif(not _bfloat16_cpu(), reason="bfloat16 trains on CPUs with AVX512_BF16 or AMX under oneDNN only")
def test_bfloat16_trains_on_a_cpu_with_the_instructions_and_its_export_serves_on_eigens_kernels(transformed, tmp_path):
    """model.mixed_precision_dtype=bfloat16 on a CPU that computes in it: training keeps mixed precision (no loss
    scaling), records it, and exports a SavedModel that a process on Eigen's kernels (a serving host without
    bfloat16 instructions runs those) loads, and generates and edits images with."""
    import keras

    path, files = transformed
    cfg = CFG.replace(train_steps=2, checkpoint_every=100, sample_every=100, mixed_precision=True,
                      mixed_precision_dtype="bfloat16")
    export = str(tmp_path / "export")
    try:
        summary = train(cfg, path, files, str(tmp_path / "work"), serving_dir=export)
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert summary["steps"] == 2
    assert summary["config"]["mixed_precision"] is True and summary["config"]["mixed_precision_dtype"] == "bfloat16"
    assert summary["final_losses"] and all(np.isfinite(float(v)) for v in summary["final_losses"].values())
    values = {a: open(files[a]).readline().strip() for a in ATTRS}
    probe = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        from tensorflow.python.util import _pywrap_util_port
        model = tf.saved_model.load({export!r})
        attrs = {{a: tf.constant([v]) for a, v in {values!r}.items()}}
        out = model.signatures["generate"](seed=tf.constant([1], tf.int64), truncation=tf.ones([1]), **attrs)
        image = tf.io.encode_png(tf.cast(tf.fill([16, 16, 3], 200), tf.uint8))
        edit = model.signatures["edit"](image_bytes=tf.stack([image]), strength=tf.ones([1]), **attrs)
        print("RESULT", _pywrap_util_port.IsMklEnabled(), out["images"].dtype.name, edit["images"].dtype.name,
              tuple(out["images"].shape), tuple(edit["images"].shape), int(np.ptp(out["images"].numpy())) > 0)
    """)
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RESULT False uint8 uint8 (1, 16, 16, 3) (1, 16, 16, 3) True" in done.stdout, done.stdout


def test_a_seeded_run_trains_the_same_weights_in_another_process(transformed, tmp_path):
    """A tiny run retrained with the same seed on the same data and machine gives the same weights bit for bit, in a
    fresh process too: the tf.data augmentation draws from each example's position, not from stateful random ops
    that a parallel map reaches in a different order each run (with those, 277 of the 278 weights differed here).
    Full-size runs also need their gradient sums kept in order (models/ordered_sums.py, pinned by
    tests/test_ordered_sums.py; measured with bench/seed_repeat.py): the tiny step is below the size at which Grappler
    reorders them."""
    path, files = transformed
    cfg = CFG.replace(checkpoint_every=100, sample_every=100, seed=3)

    def exported(name, config, in_process=True):
        serving = str(tmp_path / f"{name}_export")
        if in_process:
            train(config, path, files, str(tmp_path / name), serving_dir=serving)
        else:
            script = textwrap.dedent(f"""
                from models.config import ModelConfig
                from models.training import train
                cfg = ModelConfig.from_dict({config.to_dict()!r})
                train(cfg, {path!r}, {files!r}, {str(tmp_path / name)!r}, serving_dir={serving!r})
            """)
            subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), check=True)
        return _weights(os.path.join(serving, KERAS_WEIGHTS_DIR))

    first, again = exported("first", cfg), exported("again", cfg, in_process=False)
    assert first.keys() == again.keys()
    differing = sorted(k for k in first if not np.array_equal(first[k], again[k]))
    assert not differing, f"{len(differing)} of {len(first)} weights differ, e.g. {differing[:3]}"
