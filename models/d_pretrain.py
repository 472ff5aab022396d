"""A head start for the discriminator's auxiliary classifier (cfg.d_cls_pretrain_steps).

In the joint step D's classifier learns from one batch of real images per step, while G's classification term
asks G to satisfy it from the first step: early on G is steered by a classifier that cannot yet tell the article
types apart. A D-only step on real images costs a small part of the full G+E+D step on a CPU, so a run with a
short time budget can afford a few hundred of them first. This trains D's trunk and its per-attribute logits on
the real batches' labels with the joint step's own classification term (`d_cls`, DiffAugmented images, the
soft cross-entropy) and an Adam optimizer of its own: D's optimizer, whose step count drives the lazy R1 and
`d_editor_fake_from_step`, starts the joint run at 0 as before. The realism output and its projection
embeddings get no gradient here and stay as initialised. G and E are not touched.
"""
import logging
import time
from typing import Dict

import keras
import tensorflow as tf

from models import losses
from models.gan import VitrineGAN, _make_optimizer, one_hot_conditions
from models.ordered_sums import ordered_gradient_sums
from models.precision import needs_loss_scaling

log = logging.getLogger(__name__)


class ClassifierPretrainer(keras.Model):
    """fit() trains `gan.discriminator`'s classifier on real batches; reports `d_cls` and per-attribute accuracy."""

    def __init__(self, gan: VitrineGAN, **kwargs):
        super().__init__(**kwargs)
        self.discriminator = gan.discriminator
        self.cfg = gan.cfg
        self.vocab_sizes = dict(gan.vocab_sizes)
        self.attributes = tuple(gan.attributes)
        self.augment = gan._augment  # the joint step's DiffAugment, as D sees real images there
        # The classifier's variables: every D weight the classification term reaches. The realism head, the
        # projection embeddings and TAC-GAN's twin heads get no gradient from it; they stay out of Adam's slots.
        heads = ("d_linear", "d_project_", "d_twin_classify_")
        skipped = {id(v) for layer in self.discriminator.layers if layer.name.startswith(heads)
                   for v in layer.trainable_weights}
        self.classifier_variables = [v for v in self.discriminator.trainable_variables if id(v) not in skipped]
        names = ["d_cls"] + [f"{a}_accuracy" for a in self.attributes]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.built = True

    def compile(self, **kwargs):
        cfg = self.cfg
        kwargs.setdefault("jit_compile", cfg.jit_compile)
        super().compile(**kwargs)
        # D's optimizer settings (loss scaling under mixed precision included), in an optimizer of its own
        self.cls_optimizer = _make_optimizer(cfg.d_lr, cfg, "d_cls_adam")
        self.cls_optimizer.build(self.classifier_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def train_step(self, data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        cfg = self.cfg
        real = tf.cast(data["image"], tf.float32)
        per_replica = 1.0 / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        c_real = one_hot_conditions(data, self.vocab_sizes)
        with tf.GradientTape() as tape:
            out = self.discriminator({"image": self.augment(real), **c_real}, training=True)
            ce = {a: tf.reduce_mean(losses.soft_cross_entropy(c_real[a], out[a])) for a in self.attributes}
            d_cls = tf.add_n(list(ce.values()))
            scaled = cfg.cls_weight * d_cls * per_replica
            if needs_loss_scaling(cfg):
                scaled = self.cls_optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, self.classifier_variables)
        self.cls_optimizer.apply_gradients(zip(grads, self.classifier_variables))
        values = {"d_cls": d_cls}
        for a in self.attributes:
            hits = tf.equal(tf.argmax(out[a], -1), tf.argmax(c_real[a], -1))
            values[f"{a}_accuracy"] = tf.reduce_mean(tf.cast(hits, tf.float32))
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


class _Progress(keras.callbacks.Callback):
    """One log line every `every` steps (means since the previous line); keeps the first and last means."""

    def __init__(self, total: int, every: int, writer=None):
        super().__init__()
        self.total, self.every, self.writer = total, max(1, every), writer
        self.step = 0
        self.first: Dict[str, float] = {}
        self.last: Dict[str, float] = {}
        self.started = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every and self.step != self.total:
            return
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.first = self.first or logs
        self.last = logs
        rate = self.step / max(time.time() - self.started, 1e-6)
        log.info("D classifier head start %d/%d  %.1f steps/s  %s", self.step, self.total, rate,
                 " ".join(f"{k}={v:.3f}" for k, v in sorted(logs.items())))
        if self.writer is not None:
            with self.writer.as_default(step=self.step):
                for key, value in logs.items():
                    tf.summary.scalar(f"d_pretrain/{key}", value)
        for metric in self.model.metrics:
            metric.reset_state()


def pretrain_classifier(gan: VitrineGAN, dataset: tf.data.Dataset, steps: int, writer=None,
                        strategy: tf.distribute.Strategy = None) -> dict:
    """Trains D's classifier `steps` steps on `dataset` (the training batches). -> a summary for the run's record."""
    strategy = strategy or tf.distribute.get_strategy()
    started = time.time()
    with strategy.scope():
        trainer = ClassifierPretrainer(gan)
        trainer.compile()
    progress = _Progress(steps, gan.cfg.log_every, writer)
    log.info("D classifier head start: %d steps on real images before the joint training "
             "(model.d_cls_pretrain_steps)", steps)
    with ordered_gradient_sums(gan.cfg.ordered_gradient_sums):
        trainer.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[progress])
    return {
        "steps": steps,
        "seconds": round(time.time() - started, 2),
        "first_logged": progress.first,
        "last_logged": progress.last,
        "variables": len(trainer.classifier_variables),
    }
