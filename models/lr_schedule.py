"""Learning-rate decay over a run whose end is a time budget as often as a step count.

CycleGAN's schedule: each optimizer keeps its rate until `lr_decay_start` of the run, then decays it ("linear" or
"cosine") to `lr_final_fraction` of that rate at the run's end. A Keras `LearningRateSchedule` cannot do this: it
sees only the step, and a cpu-quick run ends when its time budget is spent, after 300 steps on one machine and
7,000 on another. So a callback sets the rate before each step from the run's progress:

    progress = max(step / train_steps, min(elapsed / max_train_seconds, step / min_train_steps))

i.e. the larger of the step fraction and the time fraction, where the time fraction cannot run ahead of the step
floor that keeps a slow machine training past its budget (`ProgressLogger.budget_spent`). Like the budget itself,
the elapsed time counts from this process's start, so a resumed run decays over its fresh budget.
"""
import logging
import math
import time
from typing import Callable, Dict

import keras
import tensorflow as tf

from models.config import ModelConfig

DECAY_KINDS = ("", "linear", "cosine")

log = logging.getLogger("vitrine.lr_schedule")


def validate(cfg: ModelConfig) -> None:
    if cfg.lr_decay not in DECAY_KINDS:
        raise ValueError(f"lr_decay must be one of {DECAY_KINDS} ('' = constant), got {cfg.lr_decay!r}")
    if not 0.0 <= cfg.lr_decay_start < 1.0:
        raise ValueError(f"lr_decay_start is a fraction of the run in [0, 1), got {cfg.lr_decay_start}")
    if not 0.0 <= cfg.lr_final_fraction <= 1.0:
        raise ValueError(f"lr_final_fraction is a fraction of the rate in [0, 1], got {cfg.lr_final_fraction}")


def run_progress(step: int, cfg: ModelConfig, elapsed_seconds: float) -> float:
    """How far through the run `step` is, in [0, 1] (see the module docstring)."""
    progress = step / max(cfg.train_steps, 1)
    if cfg.max_train_seconds > 0:
        by_time = elapsed_seconds / cfg.max_train_seconds
        if cfg.min_train_steps > 0:
            by_time = min(by_time, step / cfg.min_train_steps)
        progress = max(progress, by_time)
    return min(max(progress, 0.0), 1.0)


def lr_multiplier(progress: float, cfg: ModelConfig) -> float:
    """The factor on each optimizer's configured rate at `progress`."""
    if not cfg.lr_decay or progress <= cfg.lr_decay_start:
        return 1.0
    x = min((progress - cfg.lr_decay_start) / (1.0 - cfg.lr_decay_start), 1.0)
    final = cfg.lr_final_fraction
    if cfg.lr_decay == "linear":
        return 1.0 - x * (1.0 - final)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * x))


class LearningRateDecay(keras.callbacks.Callback):
    """Sets each named optimizer of the model (attribute name -> its configured rate) to `rate x
    lr_multiplier(progress)` before every step; writes `learning_rate/multiplier` to TensorBoard.

    The configured rates come from the caller, not the optimizers, which hold a decayed rate once this has run
    (a second `fit` with the same callback starts from the configured rates)."""

    def __init__(self, cfg: ModelConfig, start_step: int, base_rates: Dict[str, float], writer=None,
                 clock: Callable[[], float] = time.time):
        super().__init__()
        validate(cfg)
        self.cfg, self.step, self.base_rates, self.writer, self.clock = cfg, start_step, dict(base_rates), writer, clock
        self.started = clock()
        self.multiplier = 1.0
        self.announced = False

    def on_train_batch_begin(self, batch, logs=None):
        self.multiplier = lr_multiplier(run_progress(self.step, self.cfg, self.clock() - self.started), self.cfg)
        for name, rate in self.base_rates.items():
            getattr(self.model, name).learning_rate = rate * self.multiplier
        if self.multiplier < 1.0 and not self.announced:
            self.announced = True
            log.info("Learning-rate decay (%s) starts at step %d: %s -> x%.2f at the end of the run", self.cfg.lr_decay,
                     self.step, ", ".join(f"{n}={r:g}" for n, r in self.base_rates.items()), self.cfg.lr_final_fraction)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.writer is not None and self.step % self.cfg.log_every == 0:
            with self.writer.as_default(step=self.step):
                tf.summary.scalar("learning_rate/multiplier", self.multiplier)
