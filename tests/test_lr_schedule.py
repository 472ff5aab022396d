"""Learning-rate decay over a run that ends at a time budget or a step count (models/lr_schedule.py)."""
import itertools

import numpy as np
import pytest
import tensorflow as tf

from models.config import ModelConfig
from models.lr_schedule import LearningRateDecay, lr_multiplier, run_progress, validate
from test_training import ATTRS, CFG, transformed  # noqa: F401  (the fixture of real 16x16 photos)


@pytest.mark.parametrize("step, elapsed, budget, floor, expected", [
    (50, 0.0, 0.0, 0, 0.5),        # no budget: steps alone
    (10, 30.0, 60.0, 0, 0.5),      # the budget is half spent at 10 of 100 steps
    (80, 30.0, 60.0, 0, 0.8),      # steps ahead of time
    (10, 30.0, 60.0, 40, 0.25),    # a slow machine: time cannot run ahead of the step floor
    (40, 90.0, 60.0, 40, 1.0),     # past the budget and at the floor: the end
    (200, 0.0, 0.0, 0, 1.0),       # clipped
])
def test_run_progress_is_the_larger_of_steps_and_time_capped_by_the_step_floor(step, elapsed, budget, floor, expected):
    cfg = ModelConfig(train_steps=100, max_train_seconds=budget, min_train_steps=floor)
    assert run_progress(step, cfg, elapsed) == pytest.approx(expected)


def test_multiplier_holds_then_decays_to_the_final_fraction():
    linear = ModelConfig(lr_decay="linear", lr_decay_start=0.5, lr_final_fraction=0.1)
    assert [lr_multiplier(p, linear) for p in (0.0, 0.5, 0.75, 1.0)] == pytest.approx([1.0, 1.0, 0.55, 0.1])
    cosine = linear.replace(lr_decay="cosine")
    assert [lr_multiplier(p, cosine) for p in (0.5, 0.75, 1.0)] == pytest.approx([1.0, 0.55, 0.1])
    assert lr_multiplier(0.6, cosine) > lr_multiplier(0.6, linear)  # cosine starts slower
    assert lr_multiplier(1.0, ModelConfig()) == 1.0  # "" = constant


@pytest.mark.parametrize("changes, message", [({"lr_decay": "step"}, "lr_decay must be"),
                                              ({"lr_decay_start": 1.0}, "lr_decay_start"),
                                              ({"lr_final_fraction": -0.1}, "lr_final_fraction")])
def test_bad_decay_settings_are_refused_with_the_setting_named(changes, message):
    with pytest.raises(ValueError, match=message):
        validate(ModelConfig(lr_decay="linear").replace(**changes))


def _gan(files, cfg):
    from models.export import read_vocabulary
    from models.training import build_gan

    return build_gan(cfg, {a: len(read_vocabulary(files[a])) for a in ATTRS})


def test_the_compiled_train_step_uses_the_rate_the_callback_sets(transformed):  # noqa: F811
    """At the end of a spent budget with a final fraction of 0 every rate is 0: a real training step then leaves
    every trainable weight of G, E and D as it was (the callback reaches the compiled step, not a copy)."""
    from models.training import make_dataset

    path, files = transformed
    cfg = CFG.replace(train_steps=100, max_train_seconds=60.0, lr_decay="linear", lr_final_fraction=0.0)
    gan = _gan(files, cfg)
    clock = itertools.chain([0.0], itertools.repeat(1e6))  # constructed at t=0, every step long after the budget
    decay = LearningRateDecay(cfg, 0, {"g_optimizer": 1e-3, "d_optimizer": 1e-3, "e_optimizer": 1e-3},
                              clock=lambda: next(clock))
    nets = (gan.generator, gan.editor, gan.discriminator)
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    gan.fit(make_dataset(path, cfg, cfg.batch_size, training=True), steps_per_epoch=2, epochs=1, verbose=0,
            callbacks=[decay])
    assert decay.multiplier == 0.0
    for net, weights in zip(nets, before):
        assert all(np.array_equal(w.numpy(), b) for w, b in zip(net.trainable_weights, weights)), net.name
    # and the same step at the full rate does move them (so the assertion above can fail)
    decay.clock = lambda: 0.0
    decay.started = 0.0
    gan.fit(make_dataset(path, cfg, cfg.batch_size, training=True), steps_per_epoch=1, epochs=1, verbose=0,
            callbacks=[decay])
    assert decay.multiplier == 1.0
    assert not all(np.array_equal(w.numpy(), b) for w, b in zip(gan.generator.trainable_weights, before[0]))


def test_train_decays_every_optimizer_over_the_run(transformed, tmp_path):  # noqa: F811
    """train() wires the decay: 4 steps, linear from half-way to 0 -> the last step (progress 3/4) runs at x0.5."""
    from models.training import train

    path, files = transformed
    cfg = CFG.replace(lr_decay="linear", lr_decay_start=0.5, lr_final_fraction=0.0, g_lr=4e-4, d_lr=2e-4, e_lr=1e-4)
    work = tmp_path / "work"
    summary = train(cfg, path, files, str(work))
    assert summary["steps"] == 4 and summary["final_lr_multiplier"] == pytest.approx(0.5)
    assert summary["config"]["lr_decay"] == "linear"
    logged = {}  # TensorBoard: the multiplier each logged step trained at (log_every 2)
    for events in (work / "tensorboard").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag == "learning_rate/multiplier":
                    logged[event.step] = float(tf.make_ndarray(value.tensor))
    assert logged == pytest.approx({2: 1.0, 4: 0.5})


def test_train_refuses_a_bad_decay_before_training(transformed, tmp_path):  # noqa: F811
    from models.training import train

    path, files = transformed
    with pytest.raises(ValueError, match="lr_decay must be"):
        train(CFG.replace(lr_decay="exponential"), path, files, str(tmp_path / "work"))
    assert not (tmp_path / "work" / "checkpoints").exists()
