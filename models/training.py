"""Trainer `run_fn` for the conditional generator + editor (+ shared discriminator).

Referenced by import path `models.training.run_fn`. What it does:
- reads Transform's output (float images in [-1, 1], vocabulary ids) with light input augmentation;
- trains `VitrineGAN` under a `tf.distribute` strategy (MirroredStrategy on several GPUs, default otherwise),
  optionally with mixed precision and XLA;
- checkpoints every `checkpoint_every` steps and resumes from the newest checkpoint after a kill;
- warm-starts from the last blessed model (`fn_args.base_model`) when the pipeline provides one;
- logs progress (steps, images/s, ETA, losses), TensorBoard scalars and sample grids;
- with the pipeline's judge, scores the model every `judge_every` steps, stops early and exports the best
  weights (`models.judge_monitor`);
- exports the serving SavedModel (EMA generator + EMA editor, string signatures) and Keras weights for warm starts.
"""
import hashlib
import json
import logging
import math
import os
import time
from typing import Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf

from models import precision
from models.config import ModelConfig
from models.editor_watch import EditorIdentityWatch
from models.export import export_saved_model, read_vocabulary
from models.judge_pick import PICK_EDIT_SETS, PICK_FID_KEYS, alternative_picks
from models.onednn import cpu_vector_extensions, describe_cpu, onednn_enabled
from models.ordered_sums import ordered_gradient_sums

KERAS_WEIGHTS_DIR = os.path.join("assets.extra", "keras")
TRAINING_SUMMARY = os.path.join("assets.extra", "vitrine.json")
NETWORKS = ("generator", "ema_generator", "editor", "ema_editor", "discriminator")
STATE_FILE = "training_state.json"  # a checkpoint's non-weight state (LeCam's anchors)

log = logging.getLogger("vitrine.training")


# -- data ------------------------------------------------------------------------------------------
def id_feature(attribute: str) -> str:
    return f"{attribute}_id"


def feature_spec(cfg: ModelConfig) -> Dict[str, tf.io.FixedLenFeature]:
    spec = {"image": tf.io.FixedLenFeature([cfg.resolution, cfg.resolution, 3], tf.float32)}
    for attribute in cfg.condition_attributes:
        spec[id_feature(attribute)] = tf.io.FixedLenFeature([], tf.int64)
    return spec


def _expand(patterns) -> List[str]:
    files = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        files.extend(sorted(tf.io.gfile.glob(pattern)) or ([pattern] if tf.io.gfile.exists(pattern) else []))
    if not files:
        raise FileNotFoundError(f"No transformed examples match {patterns}")
    return files


def _gz_files(patterns) -> List[str]:
    files = []
    for path in _expand(patterns):
        files.extend(sorted(tf.io.gfile.glob(os.path.join(path, "*.gz"))) if tf.io.gfile.isdir(path) else [path])
    return files


HOLDOUT_BUCKETS = 10_000
RECORDS = ("all", "train", "heldout")


def is_held_out(position, fraction: float):
    """Whether the record at `position` (in file order) is one of the judge monitor's held-out records: a fixed
    hash of the position, so the same records every run on the same files, spread over a catalog in any order."""
    bucket = tf.strings.to_hash_bucket_fast(tf.strings.as_string(position), HOLDOUT_BUCKETS)
    return bucket < int(round(fraction * HOLDOUT_BUCKETS))


def validate_judge_settings(cfg: ModelConfig) -> None:
    if not 0.0 <= cfg.judge_holdout < 0.5:
        raise ValueError(f"judge_holdout is the fraction of training records held out, in [0, 0.5), "
                         f"got {cfg.judge_holdout}")
    if cfg.judge_pick_fid not in PICK_FID_KEYS:
        raise ValueError(f"judge_pick_fid must be 'train' or 'heldout', got {cfg.judge_pick_fid!r}")
    if cfg.judge_pick_fid == "heldout" and cfg.judge_holdout <= 0:
        raise ValueError("judge_pick_fid='heldout' needs held-out records: set judge_holdout > 0 (e.g. 0.04)")
    if cfg.judge_pick_edit not in PICK_EDIT_SETS:
        raise ValueError(f"judge_pick_edit must be one of {PICK_EDIT_SETS}, got {cfg.judge_pick_edit!r}")
    if cfg.judge_pick_edit != "train" and cfg.judge_holdout <= 0:
        raise ValueError(f"judge_pick_edit={cfg.judge_pick_edit!r} needs held-out records: set judge_holdout > 0")
    alternatives = alternative_picks(cfg)
    if alternatives and not cfg.restore_best:
        raise ValueError("judge_also_pick keeps each alternative's picked weights, which needs restore_best=True")
    for label, alternative in alternatives.items():
        try:
            validate_judge_settings(alternative)
        except ValueError as error:
            raise ValueError(f"judge_also_pick {label}: {error}") from None


def make_dataset(patterns, cfg: ModelConfig, batch_size: int, training: bool, augment=None,
                 records: str = "all") -> tf.data.Dataset:
    """Transformed examples -> batches {"image": [B,R,R,3], "<attr>_id": [B]}; repeats and shuffles when training.

    `augment` maps one example (dict) to an augmented one; it runs per example, before batching. With
    cfg.judge_holdout > 0, `records` "train" leaves out the held-out records (`is_held_out`) and "heldout" keeps
    only them; "all" (and judge_holdout 0) reads every record."""
    if records not in RECORDS:
        raise ValueError(f"records must be one of {RECORDS}, got {records!r}")
    spec = feature_spec(cfg)

    def parse(serialized):
        features = tf.io.parse_single_example(serialized, spec)
        checks = [
            tf.debugging.assert_non_negative(
                features[id_feature(a)],
                message=f"{a} id < 0: a value outside the vocabulary reached training "
                        "(vocabularies are analysed over every split; check Transform's splits_config)",
            )
            for a in cfg.condition_attributes
        ]
        with tf.control_dependencies(checks):
            features["image"] = tf.identity(features["image"])
        return features

    dataset = tf.data.TFRecordDataset(_gz_files(patterns), compression_type="GZIP")
    if records != "all" and cfg.judge_holdout > 0:
        keep_held_out = records == "heldout"
        dataset = dataset.enumerate().filter(
            lambda position, _: tf.equal(is_held_out(position, cfg.judge_holdout), keep_held_out)
        ).map(lambda _, record: record)
    if training:
        dataset = dataset.shuffle(4096, seed=cfg.seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment is not None:
        # each example's augmentation is seeded by (cfg.seed, its position in the run), not by a stateful random
        # op that the parallel map's threads would reach in a different order each run
        dataset = dataset.enumerate().map(
            lambda position, example: augment(example, tf.stack([tf.constant(cfg.seed, tf.int64), position])),
            num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def load_vocabularies(tf_transform_output, attributes) -> Dict[str, str]:
    return {a: tf_transform_output.vocabulary_file_by_name(a) for a in attributes}


# -- mechanics -------------------------------------------------------------------------------------
def choose_strategy() -> tf.distribute.Strategy:
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        log.info("Training on %d GPUs with MirroredStrategy", len(gpus))
        return tf.distribute.MirroredStrategy()
    log.info("Training on %s with the default strategy", gpus[0].name if gpus else "CPU")
    return tf.distribute.get_strategy()


def configure_devices(cfg: ModelConfig) -> ModelConfig:
    """Turns off, with a warning, the switches that only pay on a GPU when none is visible (e.g. the `gpu` preset
    scheduled on a CPU node), and sets the Keras dtype policy. Returns the configuration training will use."""
    if not tf.config.list_logical_devices("GPU"):
        onednn = onednn_enabled()
        log.info("CPU kernels: %s", "oneDNN" if onednn else
                 "Eigen's (oneDNN's ran cpu-quick's step ~1.6x faster on an AVX2 machine: TF_ENABLE_ONEDNN_OPTS=1 "
                 "before TensorFlow is imported, as `vitrine` sets it; models/onednn.py)")
        extensions = cpu_vector_extensions()
        log.info("CPU: %s", describe_cpu(extensions))
        cfg, choice = precision.where_the_cpu_computes_in_bfloat16(cfg, extensions, onednn)
        if choice:
            log.info(choice)
        cfg, warning = precision.on_cpu(cfg, extensions, onednn)
        if warning:
            log.warning(warning)
        if cfg.jit_compile:
            # cpu-quick's step with XLA on 2 CPU cores: 2.98 img/s after a 337 s compile, against 15.9 img/s
            # without (bench/results/train_throughput_s22_xla_cpu.json); with XLA the gpu widths ran out of host
            # memory (bench/results/train_throughput_before_groupnorm.json).
            log.warning("jit_compile (XLA) requested but no GPU is visible: training without it (on CPU, XLA made "
                        "the training step ~5x slower after a ~6-minute compile)")
            cfg = cfg.replace(jit_compile=False)
    keras.mixed_precision.set_global_policy(precision.policy_name(cfg))
    if cfg.mixed_precision:
        log.info("Mixed precision: %s", precision.policy_name(cfg))
    return cfg


def save_networks(gan, directory: str) -> None:
    tf.io.gfile.makedirs(directory)
    for name in NETWORKS:
        getattr(gan, name).save_weights(os.path.join(directory, f"{name}.weights.h5"))


def values_checksum(values) -> str:
    """sha256 over weight values (arrays) in order: the same weights give the same checksum."""
    digest = hashlib.sha256()
    for value in values:
        digest.update(np.ascontiguousarray(value, dtype=np.float32).tobytes())
    return digest.hexdigest()


def weights_checksum(model) -> str:
    """`values_checksum` of a network's current weights."""
    return values_checksum(keras.ops.convert_to_numpy(weight) for weight in model.weights)


def load_networks(gan, directory: str, strict: bool = True) -> List[str]:
    """Loads whichever network weights exist in `directory`; returns their names. A model saved before the
    editor had a moving average (no ema_editor weights) starts that average from its editor.

    With strict=False (warm starts) a network whose saved weights do not fit its architecture (e.g. an editor
    saved before it had the background input) is skipped with a warning and keeps its fresh weights; with
    strict=True (resume) that is an error."""
    loaded = []
    for name in NETWORKS:
        path = os.path.join(directory, f"{name}.weights.h5")
        if tf.io.gfile.exists(path):
            network = getattr(gan, name)
            if strict:
                network.load_weights(path)
            else:
                before = network.get_weights()
                try:
                    network.load_weights(path)
                except ValueError as err:
                    network.set_weights(before)  # a partial load must not leave a mix of old and new weights
                    log.warning("%s does not fit this %s's architecture (%s): it trains from fresh weights",
                                path, name, str(err).splitlines()[0][:300])
                    continue
            loaded.append(name)
    if "editor" in loaded and "ema_editor" not in loaded:
        gan.ema_editor.set_weights(gan.editor.get_weights())
        log.info("%s has no ema_editor weights: its moving average starts from the editor's", directory)
    return loaded


class Checkpoints:
    """Step-numbered checkpoints of the networks (and the step) in `directory`, keeping the newest few.

    Network weights (G, EMA G, E, EMA E, D), LeCam's anchors and each network's step count are restored on resume,
    so the moving averages' ramps and the step-counted switches keep their place; optimizer moments restart from
    zero, which Adam (beta1 0 in every preset) recovers from within a few steps, and which keeps checkpoints small
    and Keras-version independent. The input order restarts too."""

    def __init__(self, directory: str, keep: int = 2, monitor=None):
        self.directory = directory
        self.keep = keep
        self.monitor = monitor  # a JudgeMonitor whose checks and picks each checkpoint also keeps
        tf.io.gfile.makedirs(directory)

    def path(self, step: int) -> str:
        return os.path.join(self.directory, f"step-{step:08d}")

    def steps(self) -> List[int]:
        found = []
        for name in tf.io.gfile.listdir(self.directory):
            name = name.rstrip("/")
            if name.startswith("step-") and tf.io.gfile.exists(os.path.join(self.directory, name, "DONE")):
                found.append(int(name[len("step-"):]))
        return sorted(found)

    def save(self, gan, step: int) -> None:
        path = self.path(step)
        save_networks(gan, path)
        with tf.io.gfile.GFile(os.path.join(path, STATE_FILE), "w") as f:
            json.dump(gan.training_state(), f)
        if self.monitor is not None:
            self.monitor.save_state(path)
        with tf.io.gfile.GFile(os.path.join(path, "DONE"), "w") as f:  # written last: a killed save is ignored
            f.write(str(step))
        for old in self.steps()[:-self.keep]:
            tf.io.gfile.rmtree(os.path.join(self.directory, f"step-{old:08d}"))

    def restore_latest(self, gan) -> int:
        steps = self.steps()
        if not steps:
            return 0
        path = self.path(steps[-1])
        load_networks(gan, path)
        state = os.path.join(path, STATE_FILE)
        saved = {}
        if tf.io.gfile.exists(state):  # checkpoints written before LeCam have none: its anchors start afresh
            with tf.io.gfile.GFile(state) as f:
                saved = json.load(f)
        gan.restore_training_state(saved, steps[-1])
        return steps[-1]


def condition_grid_inputs(cfg: ModelConfig, vocab_sizes: Dict[str, int], rows: int, cols: int, seed: int):
    """Fixed latents and conditions for sample grids: row r shows value r of the first attribute,
    column c value c of the second (or random values of further attributes)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows * cols, cfg.z_dim)).astype("float32")
    conditions = {}
    for index, attribute in enumerate(cfg.condition_attributes):
        size = vocab_sizes[attribute]
        if index == 0:
            ids = np.repeat(np.arange(rows) % size, cols)
        elif index == 1:
            ids = np.tile(np.arange(cols) % size, rows)
        else:
            ids = rng.integers(0, size, rows * cols)
        conditions[attribute] = np.eye(size, dtype="float32")[ids]
    return {"z": z, **conditions}


def tile(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """[rows*cols, H, W, 3] in [-1, 1] -> one uint8 image."""
    images = np.clip((np.asarray(images, dtype="float32") + 1.0) * 127.5, 0, 255).astype("uint8")
    n, h, w, c = images.shape
    return images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


class ProgressLogger(keras.callbacks.Callback):
    """Readable progress for people watching a long run: step, images/s, ETA, losses (each the mean over the
    `log_every` steps since the previous line); plus TensorBoard scalars, sample grids and checkpoints."""

    def __init__(self, cfg, total_steps, start_step, checkpoints, grid_inputs, sample_dir, writer):
        super().__init__()
        self.cfg, self.total, self.step = cfg, total_steps, start_step
        self.checkpoints, self.grid_inputs, self.sample_dir, self.writer = checkpoints, grid_inputs, sample_dir, writer
        self.started = time.time()
        self.first_step_done = self.started
        self.start_step = start_step
        self.last_logs = {}
        self.stopped_early = False
        self.floor_warned = False  # logged once: the budget ran out before min_train_steps
        self.editor_watch = EditorIdentityWatch(start_step=start_step)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.last_logs = logs
        done = self.step - self.start_step
        if done == 1:  # the first step includes tracing/compilation: rates and ETA count from after it
            self.first_step_done = time.time()
        if self.step % self.cfg.log_every == 0 or self.step == self.total:
            per_step = self.seconds_per_step()
            rate = self.cfg.batch_size / per_step if done > 1 else 0.0
            eta = (self.total - self.step) * per_step
            if self.cfg.max_train_seconds:  # the time budget ends the run first when it is the tighter bound
                budget_left = self.cfg.max_train_seconds - (time.time() - self.started)
                floor_left = (min(self.cfg.min_train_steps, self.total) - self.step) * per_step
                eta = min(eta, max(0.0, budget_left, floor_left))
            losses = " ".join(f"{k}={v:.3f}" for k, v in sorted(logs.items()))
            log.info("step %d/%d (%.0f%%)  %.1f img/s  ETA %.0fs  %s", self.step, self.total,
                     100.0 * self.step / self.total, rate, eta, losses)
            if "mask_mean" in logs:
                self.editor_watch.update(self.step, logs["mask_mean"])
            with self.writer.as_default(step=self.step):
                for key, value in logs.items():
                    tf.summary.scalar(key, value)
                tf.summary.scalar("images_per_second", rate)
            # A run is one Keras epoch, so without this every logged loss would be the mean since step 1: after a
            # few thousand steps the log and TensorBoard curves stop moving whatever training does. Each logged
            # value is the mean over the steps since the previous log line instead.
            for metric in self.model.metrics:
                metric.reset_state()
        if self.step % self.cfg.sample_every == 0 or self.step == self.total:
            self.write_samples()
        out_of_time = self.budget_spent()
        if out_of_time and self.step < self.total:
            log.warning("Time budget of %.0fs reached at step %d/%d: stopping, checkpointing and exporting",
                        self.cfg.max_train_seconds, self.step, self.total)
            self.model.stop_training = True
            self.stopped_early = True
            self.write_samples()
        if self.step % self.cfg.checkpoint_every == 0 or self.step == self.total or out_of_time:
            self.checkpoints.save(self.model, self.step)

    def seconds_per_step(self) -> float:
        """Mean wall time of this process's steps after the first (which includes tracing)."""
        timed = max(self.step - self.start_step - 1, 1)
        return max(time.time() - self.first_step_done, 1e-6) / timed

    def budget_spent(self) -> bool:
        """True once the time budget is used up and the run has reached `min_train_steps`."""
        cfg = self.cfg
        if not cfg.max_train_seconds or time.time() - self.started <= cfg.max_train_seconds:
            return False
        if self.step >= cfg.min_train_steps:
            return True
        if not self.floor_warned:
            self.floor_warned = True
            per_step = self.seconds_per_step()
            log.warning("Time budget of %.0fs reached at step %d, below min_train_steps=%d: this machine trains at "
                        "%.1f img/s, so training goes on to step %d (about %.0fs more) rather than export a model "
                        "too young for the evaluator's bars. Lower model.min_train_steps to stop at the budget.",
                        cfg.max_train_seconds, self.step, cfg.min_train_steps, cfg.batch_size / per_step,
                        cfg.min_train_steps, (cfg.min_train_steps - self.step) * per_step)
        return False

    def write_samples(self):
        from PIL import Image  # only needed here

        rows = self.grid_inputs["__rows__"]
        cols = self.grid_inputs["__cols__"]
        inputs = {k: v for k, v in self.grid_inputs.items() if not k.startswith("__")}
        images = self.model.ema_generator(inputs, training=False)
        grid = tile(np.asarray(images), rows, cols)
        path = os.path.join(self.sample_dir, f"samples-{self.step:08d}.png")
        with tf.io.gfile.GFile(path, "wb") as f:
            Image.fromarray(grid).save(f, format="PNG")
        with self.writer.as_default(step=self.step):
            tf.summary.image("samples", grid[None], max_outputs=1)


# -- the training entry point -----------------------------------------------------------------------
def build_gan(cfg: ModelConfig, vocab_sizes: Dict[str, int]):
    from models.gan import VitrineGAN
    from models.networks import build_discriminator, build_editor, build_generator

    gan = VitrineGAN(
        build_generator(cfg, vocab_sizes),
        build_editor(cfg, vocab_sizes),
        build_discriminator(cfg, vocab_sizes),
        cfg,
        vocab_sizes,
    )
    gan.compile(jit_compile=cfg.jit_compile)
    return gan


def train(
    cfg: ModelConfig,
    train_patterns,
    vocabulary_files: Dict[str, str],
    work_dir: str,
    serving_dir: Optional[str] = None,
    base_model: Optional[str] = None,
    judge_model: Optional[str] = None,
) -> dict:
    """Trains (resuming from `work_dir/checkpoints` if present) and exports to `serving_dir`. Returns a summary.

    With `judge_model` (the judge's SavedModel) and `cfg.judge_every` > 0 the judge scores the model during
    training, may stop it early and picks the weights to export (see `models.judge_monitor`)."""
    from models.augment import augment_example
    from models.lr_schedule import validate

    validate(cfg)  # before any work: a bad setting is refused, not found after the data is read
    validate_judge_settings(cfg)
    keras.utils.set_random_seed(cfg.seed)
    cfg = configure_devices(cfg)
    vocab_sizes = {a: len(read_vocabulary(vocabulary_files[a])) for a in cfg.condition_attributes}
    strategy = choose_strategy()
    global_batch = cfg.batch_size * strategy.num_replicas_in_sync
    dataset = make_dataset(train_patterns, cfg, global_batch, training=True, augment=augment_example, records="train")

    with strategy.scope():
        gan = build_gan(cfg, vocab_sizes)

    checkpoints = Checkpoints(os.path.join(work_dir, "checkpoints"))
    start_step = checkpoints.restore_latest(gan)
    warm_started = []
    warm_start_checksums = {}
    carried_counts = None
    vocabulary_change = None
    if start_step:
        log.info("Resuming from checkpoint at step %d", start_step)
    elif base_model:
        warm_started, vocabulary_change = warm_start(gan, base_model, vocabulary_files)
        if warm_started:
            log.info("Warm start from %s: loaded %s", base_model, ", ".join(warm_started))
            # Recorded before training, to compare with the base model's `exported_checksums`.
            warm_start_checksums = {name: weights_checksum(getattr(gan, name)) for name in warm_started}
            if cfg.warm_start_counts:
                carried_counts = carry_base_counts(gan, base_model, warm_started)
        else:
            log.warning("Base model %s has no Keras weights (%s); training from scratch", base_model, KERAS_WEIGHTS_DIR)

    sample_dir = os.path.join(work_dir, "samples")
    tf.io.gfile.makedirs(sample_dir)
    writer = tf.summary.create_file_writer(os.path.join(work_dir, "tensorboard"))
    rows = min(8, vocab_sizes[cfg.condition_attributes[0]])
    cols = min(8, vocab_sizes[cfg.condition_attributes[1]]) if len(cfg.condition_attributes) > 1 else 8
    grid_inputs = condition_grid_inputs(cfg, vocab_sizes, rows, cols, cfg.seed)
    grid_inputs.update({"__rows__": rows, "__cols__": cols})
    progress = ProgressLogger(cfg, cfg.train_steps, start_step, checkpoints, grid_inputs, sample_dir, writer)
    monitor = None
    if judge_model and cfg.judge_every > 0:
        from models.judge_monitor import JudgeMonitor, fixed_examples

        examples = fixed_examples(train_patterns, cfg, cfg.judge_samples, records="train")
        heldout = fixed_examples(train_patterns, cfg, cfg.judge_samples, records="heldout") \
            if cfg.judge_holdout > 0 else None
        # The base model's weights are a candidate for the pick (a check at step 0) unless the catalog gained
        # values since: it cannot draw those, and keeping it would export a model that ignores them.
        gained = {a: c["added"] for a, c in (vocabulary_change or {}).items() if c["added"]}
        if warm_started and gained:
            log.info("No judge check at step 0: the base model cannot draw %s, so its weights are no candidate",
                     "; ".join(f"{a} {', '.join(v)}" for a, v in gained.items()))
        monitor = JudgeMonitor(judge_model, cfg, vocab_sizes, examples, writer, start_step, heldout=heldout,
                               check_start=bool(warm_started) and not gained)
        if start_step and not monitor.restore_state(checkpoints.path(start_step)):
            log.warning("The checkpoint of step %d holds no judge checks: the monitor picks among this run's checks "
                        "only", start_step)
        checkpoints.monitor = monitor
    elif cfg.judge_every > 0:
        log.warning("judge_every=%d but no judge model was given: training without the judge monitor",
                    cfg.judge_every)
    if cfg.judge_holdout > 0 and monitor is None:
        log.warning("judge_holdout=%.3f keeps records out of training but no judge monitor runs to use them",
                    cfg.judge_holdout)

    decay = None
    if cfg.lr_decay:
        from models.lr_schedule import LearningRateDecay

        decay = LearningRateDecay(cfg, start_step, {"g_optimizer": cfg.g_lr, "d_optimizer": cfg.d_lr,
                                                    "e_optimizer": cfg.e_lr}, writer)

    remaining = cfg.train_steps - start_step
    started = time.time()
    judge_summary = None
    d_pretrain = None
    if remaining > 0 and cfg.d_cls_pretrain_steps > 0:
        if start_step:
            log.info("Resumed at step %d: no D classifier head start (model.d_cls_pretrain_steps)", start_step)
        elif "discriminator" in warm_started:
            log.info("The discriminator was warm-started: no D classifier head start (model.d_cls_pretrain_steps)")
        else:
            from models.d_pretrain import pretrain_classifier

            d_pretrain = pretrain_classifier(gan, dataset, cfg.d_cls_pretrain_steps, writer, strategy)
    if remaining > 0:
        log.info("Training %d steps (batch %d, %dx%d, %s) from step %d", remaining, global_batch,
                 cfg.resolution, cfg.resolution, ", ".join(f"{a}: {n}" for a, n in vocab_sizes.items()), start_step)
        warmup = None
        if start_step < cfg.editor_from_step:
            from models.gan import EditorFromStep

            log.info("The editor's warm-up: G and D train alone until step %d", cfg.editor_from_step)
            warmup = EditorFromStep(gan, start_step)
        elif cfg.editor_from_step:
            gan.editor_training = True  # resumed past the warm-up
        if cfg.editor_batch_fraction < 1.0:
            log.info("The editor trains on the first %d of each replica's %d images (model.editor_batch_fraction=%g)",
                     math.ceil(cfg.editor_batch_fraction * cfg.batch_size), cfg.batch_size, cfg.editor_batch_fraction)
        callbacks = [c for c in (warmup, monitor, decay, progress) if c is not None]
        with ordered_gradient_sums(cfg.ordered_gradient_sums):
            gan.fit(dataset, steps_per_epoch=remaining, epochs=1, verbose=0, callbacks=callbacks)
        if monitor:
            judge_summary = finish_judge_monitor(monitor, gan, checkpoints, progress.step)
            if monitor.restored_best:  # the newest checkpoint and the last grid show what will be exported
                checkpoints.save(gan, progress.step)
                progress.write_samples()
    seconds = time.time() - started
    if progress.step <= cfg.editor_from_step:
        log.warning("The run ended at step %d, inside the editor's warm-up (model.editor_from_step=%d): the editor "
                    "never trained and is exported with its initial weights", progress.step, cfg.editor_from_step)
    summary = {
        "config": cfg.to_dict(),
        "vocab_sizes": vocab_sizes,
        "steps": progress.step,
        "planned_steps": cfg.train_steps,
        "stopped_by_time_budget": progress.stopped_early,
        "trained_past_time_budget": progress.floor_warned,  # the budget ran out before min_train_steps
        "stopped_by_judge": bool(monitor and monitor.stopped_early),
        "judge_monitor": judge_summary,
        "resumed_from_step": start_step,
        "warm_started": warm_started,
        "warm_start_from": base_model if warm_started else None,
        "warm_start_checksums": warm_start_checksums,
        "warm_start_network_steps": carried_counts,  # the base's step counts a warm start went on from
        # per attribute: values the base model did not know (they started near its rows), values
        # it knew that this catalog lacks, and whether known values changed ids (their rows moved with them)
        "warm_start_vocabulary": vocabulary_change,
        # each network's step count at the weights exported (a warm start from this model carries them on)
        "network_steps": exported_network_steps(gan, progress.step, monitor),
        "train_seconds": round(seconds, 2),
        "images_per_second": round((progress.step - start_step) * global_batch / seconds, 2) if seconds > 0 else None,
        "final_losses": progress.last_logs,
        "editor_watch": progress.editor_watch.summary(),
        "final_lr_multiplier": decay.multiplier if decay else 1.0,
        "replicas": strategy.num_replicas_in_sync,
        "editor_trained_steps": max(progress.step - cfg.editor_from_step, 0),
        "d_cls_pretrain": d_pretrain,
    }
    if serving_dir:
        export(gan, cfg, vocabulary_files, serving_dir, summary)
    return summary


def exported_network_steps(gan, last_step: int, monitor=None) -> Dict[str, int]:
    """Each network's step count (resumes and carried warm starts included) at the weights the run exports: its
    count now, less the steps it took since the check whose weights a judge's pick put back (G and D go with the
    generator side, E with the editor side; E takes no steps in its warm-up, up to model.editor_from_step)."""
    side_of = {"generator": "generator", "discriminator": "generator", "editor": "editor"}
    counts = {}
    for name, side in side_of.items():
        now = int(gan.steps_taken(name).numpy())
        picked = monitor.restored.get(side) if monitor is not None else None
        if picked is None:
            counts[name] = now
            continue
        first = max(picked, gan.cfg.editor_from_step) if name == "editor" else picked
        counts[name] = max(0, now - max(0, last_step - first))
    return counts


def warm_start(gan, base_model: str, vocabulary_files: Dict[str, str]):
    """Loads the base model's networks into `gan` (fn_args.base_model). Returns (networks loaded, the vocabulary
    change per attribute or None when the base's vocabularies are unknown). Each value keeps its own trained rows
    when Transform renumbered the vocabularies or the catalog gained or lost values (models/warm_start_vocab.py)."""
    from models import warm_start_vocab as wsv

    weights_dir = os.path.join(base_model, KERAS_WEIGHTS_DIR)
    attributes = gan.cfg.condition_attributes
    base_vocab = wsv.base_vocabularies(base_model, attributes)
    if base_vocab is None:
        log.warning("Base model %s has no vocabulary for %s: its weights load by position, as saved",
                    base_model, ", ".join(attributes))
        return load_networks(gan, weights_dir, strict=False), None
    run_vocab = {a: read_vocabulary(vocabulary_files[a]) for a in attributes}
    changes = wsv.vocabulary_changes(base_vocab, run_vocab)
    if wsv.unchanged(changes):
        return load_networks(gan, weights_dir, strict=False), wsv.summary(changes)
    log.info("The catalog's vocabularies changed since the base model (%s): its weights are moved to each value's "
             "new id; a new value's embeddings start as a draw from the spread of the base's rows, its classifier "
             "columns as their mean", wsv.describe(changes))
    return wsv.load_remapped(gan, weights_dir, base_vocab, changes), wsv.summary(changes)


def base_network_steps(base_model: str) -> Optional[Dict[str, int]]:
    """The step counts of a base model's exported weights, from its training summary: its `network_steps` (since
    session 59); in older summaries G and D at the exported generator's step and E at the exported editor's step
    less the editor's warm-up. None when the model has no training summary."""
    path = os.path.join(base_model, TRAINING_SUMMARY)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        summary = json.load(f)
    if summary.get("network_steps"):
        return {name: int(count) for name, count in summary["network_steps"].items()}
    steps = int(summary.get("steps") or 0)
    restored = (summary.get("judge_monitor") or {}).get("restored") or {}
    warmup = int((summary.get("config") or {}).get("editor_from_step") or 0)
    generator, editor = int(restored.get("generator", steps)), int(restored.get("editor", steps))
    return {"generator": generator, "discriminator": generator, "editor": max(0, editor - warmup)}


def carry_base_counts(gan, base_model: str, warm_started: List[str]) -> Optional[Dict[str, int]]:
    """model.warm_start_counts: each warm-started network goes on from the base model's step count, so its moving
    average keeps the decay it had reached. Returns the counts carried (None: the base records none)."""
    counts = base_network_steps(base_model)
    if counts is None:
        log.warning("Base model %s has no training summary: the warm start counts its steps afresh", base_model)
        return None
    carried = {name: counts[name] for name in gan.step_offsets if name in warm_started and name in counts}
    for name, count in carried.items():
        gan.step_offsets[name].assign(count)
    log.info("Warm start carries the base model's step counts: %s",
             ", ".join(f"{name} {count}" for name, count in carried.items()))
    return carried


UNPICKED_DIR = "unpicked"  # under checkpoints/: the last weights of a run whose judge monitor put picks back
PICKED_BY_DIR = "picked_by"  # under checkpoints/: <setting>-<value>/step-N, what an alternative pick would export


def finish_judge_monitor(monitor, gan, checkpoints: Checkpoints, step: int) -> dict:
    """The monitor's last check and picks (`JudgeMonitor.finish`). Before a pick is put back the last weights are
    checkpointed under checkpoints/unpicked, and each alternative pick (model.judge_also_pick) that differs from
    the run's own under checkpoints/picked_by: step-numbered like the periodic checkpoints, outside their folder
    (a resume never reads them), so `bench/train_quality.py --checkpoint` scores each. Their folders, relative to
    checkpoints/, go into the summary."""
    kept = {}

    def keep_last_weights():  # with the checks and picks: a run continued from here still weighs its picks
        Checkpoints(os.path.join(checkpoints.directory, UNPICKED_DIR), keep=1, monitor=monitor).save(gan, step)
        kept["unpicked"] = f"{UNPICKED_DIR}/step-{step:08d}"

    summary = monitor.finish(before_restore=keep_last_weights)
    summary["unpicked_checkpoint"] = kept.get("unpicked")
    if kept:
        log.info("Kept the last weights (step %d) beside the picks in %s", step,
                 os.path.join(checkpoints.directory, kept["unpicked"]))
    for label, alternative in summary["alternatives"].items():
        alternative["checkpoint"] = None
        if not alternative["differs"]:
            log.info("The alternative pick %s picks what the run exports (%s)", label, alternative["best"])
            continue
        folder = os.path.join(PICKED_BY_DIR, label.replace("=", "-"))
        with monitor.alternative_in_place(label):
            Checkpoints(os.path.join(checkpoints.directory, folder), keep=1).save(gan, step)
        alternative["checkpoint"] = f"{folder}/step-{step:08d}"
        log.info("The alternative pick %s would export the %s of step(s) %s instead: kept in %s", label,
                 " and ".join(alternative["differs"]),
                 ", ".join(str(alternative["best"][side]) for side in alternative["differs"]),
                 os.path.join(checkpoints.directory, alternative["checkpoint"]))
    return summary


def export(gan, cfg: ModelConfig, vocabulary_files: Dict[str, str], serving_dir: str, summary: dict) -> None:
    export_saved_model(serving_dir, gan.ema_generator, gan.export_editor, vocabulary_files, cfg.resolution, cfg.z_dim)
    save_networks(gan, os.path.join(serving_dir, KERAS_WEIGHTS_DIR))
    summary = dict(summary, exported_checksums={name: weights_checksum(getattr(gan, name)) for name in NETWORKS})
    with tf.io.gfile.GFile(os.path.join(serving_dir, TRAINING_SUMMARY), "w") as f:
        json.dump(summary, f, indent=2)
    log.info("Exported serving model to %s", serving_dir)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    import tensorflow_transform as tft  # sets TF_USE_LEGACY_KERAS=1; model code uses `import keras` (Keras 3)

    logging.getLogger().setLevel(logging.INFO)
    custom = fn_args.custom_config or {}
    cfg = ModelConfig.from_dict(custom["model"])
    if fn_args.train_steps:
        cfg = cfg.replace(train_steps=int(fn_args.train_steps))
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    vocabulary_files = load_vocabularies(tf_transform_output, cfg.condition_attributes)
    # Checkpoints live in a folder that survives a retried execution when the pipeline provides one; it is keyed
    # by the training data and configuration, so a retry resumes while a new span or preset starts afresh.
    work_dir = fn_args.model_run_dir
    if custom.get("checkpoint_dir"):
        key = hashlib.sha256(json.dumps([list(fn_args.train_files), cfg.to_dict()], sort_keys=True).encode())
        work_dir = os.path.join(custom["checkpoint_dir"], key.hexdigest()[:16])
    summary = train(cfg, fn_args.train_files, vocabulary_files, work_dir, fn_args.serving_model_dir,
                    base_model=getattr(fn_args, "base_model", None), judge_model=custom.get("judge_model"))
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "training_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
