"""VitrineGAN: joint training of generator G, editor E and a shared discriminator D (the "co-design").

One `train_step` = one forward of G and E, a D step on them (real vs. G fakes vs. E edits, hinge + lazy R1 +
auxiliary classification on reals), then a G step and an E step scored by the updated D (separate optimizers).
The editor learns from
  * adversarial + target-attribute classification on edits of real images,
  * paired supervision G gives for free: E(G(z, c1), c2) ≈ G(z, c2) (G stopped),
  * cycle consistency E(E(x, c2), c1) ≈ x,
  * background clean-up pairs (models/background.py): with cfg.background_share, some of its real images put onto
    random backgrounds, to be returned on white (background input 1) or as they are (background input 0),
  * "keep" handling: with cfg.keep_prob an attribute of the target is all-zeros (= keep as is) and the
    source label becomes its classification/pairing target; with cfg.single_change_prob an edit changes exactly
    one attribute and keeps the rest, as recolour and change-category requests do.
Optional (off by default): TAC-GAN's twin classifier on D (cfg.twin_cls_weight), mode seeking for G, and a floor
on G's classification term at the real images' cross-entropy (cfg.g_cls_real_floor). The editor's classification
term has its own weight when cfg.editor_cls_weight >= 0 (else cfg.cls_weight). With cfg.d_mismatch_weight D also
learns to call real images fake when paired with another image's labels (the "wrong pairs" of matching-aware
discriminators, Reed et al. 2016), so its realism output depends on the labels matching the image; the wrong
labels are the batch's rolled by one, or with cfg.d_mismatch_labels="edit" the step's edit targets.
cfg.d_editor_fake_share weighs E's edits against G's samples in D's fake term (0 = D never sees edits), from D
step cfg.d_editor_fake_from_step on (before it, 0). With cfg.editor_from_step the first steps train G and D only
(no editor forward, no edits in D), and `EditorFromStep` switches fit() to the full step at that step.
Losses are averaged per replica and divided by the replica count, since gradients are summed across replicas.
"""
import logging
from typing import Dict, Mapping, Optional

import keras
import tensorflow as tf

from models import background as bg
from models import losses
from models.augment import diff_augment, parse_policy
from models.config import ModelConfig
from models.layers import SpectralConv2D
from models.networks import twin_output
from models.precision import needs_loss_scaling

MISMATCH_LABELS = ("roll", "edit")  # cfg.d_mismatch_labels: the batch's labels rolled by one, or the edit targets
BACKGROUND_MASK_PAIRS = ("all", "white")  # cfg.background_mask_pairs: which clean-up pairs teach the keep-mask
# the editor's terms: not reported by the G+D steps of its warm-up
EDITOR_METRICS = ("e_loss", "e_adv", "e_cls", "pair_l1", "cycle_l1", "mask_mean", "mask_cap", "background_l1",
                  "background_mask")

log = logging.getLogger(__name__)


def one_hot_conditions(ids: Mapping[str, tf.Tensor], vocab_sizes: Mapping[str, int]) -> Dict[str, tf.Tensor]:
    """{"<attr>_id" or "<attr>": int [B]} -> {attr: float32 one-hot [B, V]} for every attr in vocab_sizes.

    Ids must be in [0, V): an id of -1 (unknown value) gives an all-zero row, i.e. "keep"/"unconditioned".
    """
    out = {}
    for attr, size in vocab_sizes.items():
        key = f"{attr}_id" if f"{attr}_id" in ids else attr
        if key not in ids:
            raise ValueError(f"No ids for attribute {attr!r}: expected key '{attr}_id' or '{attr}', got {sorted(ids)}")
        out[attr] = tf.one_hot(tf.reshape(tf.cast(ids[key], tf.int32), [-1]), int(size), dtype=tf.float32)
    return out


def _make_optimizer(lr, cfg: ModelConfig, name):
    opt = keras.optimizers.Adam(learning_rate=lr, beta_1=cfg.beta1, beta_2=cfg.beta2,
                                global_clipnorm=cfg.grad_clip_norm or None, name=name)
    if needs_loss_scaling(cfg):  # float16; bfloat16 has float32's exponent range
        opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_loss_scale")
    return opt


class VitrineGAN(keras.Model):
    """keras.Model whose `fit` trains G, E and D jointly; `ema_generator` is the export copy of G, `ema_editor`
    the moving average of E (exported instead of E when cfg.editor_ema, as StarGAN v2 exports its EMA generator)."""

    def __init__(self, generator: keras.Model, editor: keras.Model, discriminator: keras.Model,
                 cfg: ModelConfig, vocab_sizes: Mapping[str, int], **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.editor = editor
        self.discriminator = discriminator
        self.cfg = cfg
        self.attributes = tuple(cfg.condition_attributes)
        self.vocab_sizes = {a: int(vocab_sizes[a]) for a in self.attributes}
        parse_policy(cfg.diffaugment)
        if cfg.d_mismatch_labels not in MISMATCH_LABELS:
            raise ValueError(f"d_mismatch_labels must be one of {MISMATCH_LABELS}, got {cfg.d_mismatch_labels!r}")
        if cfg.background_mask_pairs not in BACKGROUND_MASK_PAIRS:
            raise ValueError(f"background_mask_pairs must be one of {BACKGROUND_MASK_PAIRS}, "
                             f"got {cfg.background_mask_pairs!r}")
        if not 0.0 <= cfg.d_editor_fake_share <= 1.0:
            raise ValueError(f"d_editor_fake_share is a share in [0, 1], got {cfg.d_editor_fake_share}")
        if cfg.d_editor_fake_from_step < 0:
            raise ValueError(f"d_editor_fake_from_step is a step, got {cfg.d_editor_fake_from_step}")
        if cfg.editor_from_step < 0:
            raise ValueError(f"editor_from_step is a step, got {cfg.editor_from_step}")
        if not 0.0 <= cfg.background_share <= 1.0:
            raise ValueError(f"background_share is a share of the editor's images in [0, 1], "
                             f"got {cfg.background_share}")
        if not 0.0 < cfg.editor_batch_fraction <= 1.0:
            raise ValueError("editor_batch_fraction is a share of the batch in (0, 1], "
                             f"got {cfg.editor_batch_fraction}")
        # Read when fit() traces its step: False = the G+D step (the editor's warm-up), True = the full step.
        # train() sets it for a resumed run; EditorFromStep turns it on during fit().
        self.editor_training = cfg.editor_from_step == 0
        if cfg.mask_cap_weight > 0 and not 0.0 < cfg.mask_cap < 1.0:
            raise ValueError(f"mask_cap is a keep-mask mean in (0, 1), got {cfg.mask_cap}")
        self.editor_cls_weight = cfg.cls_weight if cfg.editor_cls_weight < 0 else cfg.editor_cls_weight
        self.ema_generator = keras.models.clone_model(generator)
        self.ema_generator.set_weights(generator.get_weights())
        self.ema_generator.trainable = False
        self.ema_editor = keras.models.clone_model(editor)
        self.ema_editor.set_weights(editor.get_weights())
        self.ema_editor.trainable = False
        names = ["d_loss", "g_loss", "e_loss", "d_real", "d_fake", "r1", "d_cls", "g_cls", "e_adv", "e_cls",
                 "pair_l1", "cycle_l1", "mask_mean", "mode_seeking", "d_twin", "g_twin", "g_cls_loss",
                 "d_mismatch", "mask_cap", "background_l1", "background_mask", "lecam"]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        if cfg.lecam_weight < 0 or not 0.0 < cfg.lecam_decay < 1.0:
            raise ValueError(f"lecam_weight must be >= 0 and lecam_decay in (0, 1), got {cfg.lecam_weight}, "
                             f"{cfg.lecam_decay}")
        # LeCam's anchors: moving sums of D's mean realism score on real images and on G's samples, and how many
        # updates they hold (for the zero-debiased average). Each replica keeps its own; a read outside the step
        # (a checkpoint) averages them.
        self.lecam_ema = tf.Variable(tf.zeros([2]), trainable=False, name="lecam_ema",
                                     synchronization=tf.VariableSynchronization.ON_READ,
                                     aggregation=tf.VariableAggregation.MEAN)
        self.lecam_updates = tf.Variable(0.0, trainable=False, name="lecam_updates",
                                         synchronization=tf.VariableSynchronization.ON_READ,
                                         aggregation=tf.VariableAggregation.MEAN)
        # How many steps each network took before this process, restored from a checkpoint (0 in a fresh run; a
        # warm-started run carries its base model's, models/training.py: carry_base_counts). Its optimizer's
        # `iterations` restart at 0 on a resume, as its Adam moments do (a checkpoint keeps the weights only), so
        # the schedules that count a network's steps read offset + iterations: the moving averages' ramps, the late
        # ramp's switch, lazy R1 and D's editor-fake switch.
        # Counted from 0 they restarted the moving average at a resume (its decay fell to 0.1): session 58's
        # resumed hour read a held-out check FID of 6.06 at its first check, 4.81 with the counts kept.
        self.step_offsets = {name: tf.Variable(0, dtype=tf.int64, trainable=False, name=f"{name}_step_offset")
                             for name in ("generator", "editor", "discriminator")}
        # The sub-networks are built; without this, fit() under a distribution strategy would try to build
        # the model by calling it on a training batch, which is not a generator input.
        self.built = True

    def compile(self, g_optimizer=None, e_optimizer=None, d_optimizer=None, **kwargs):
        cfg = self.cfg
        kwargs.setdefault("jit_compile", cfg.jit_compile)
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer or _make_optimizer(cfg.g_lr, cfg, "g_adam")
        self.e_optimizer = e_optimizer or _make_optimizer(cfg.e_lr, cfg, "e_adam")
        self.d_optimizer = d_optimizer or _make_optimizer(cfg.d_lr, cfg, "d_adam")
        for opt, net in ((self.g_optimizer, self.generator), (self.e_optimizer, self.editor),
                         (self.d_optimizer, self.discriminator)):
            opt.build(net.trainable_variables)

    def _iterations(self, network: str):
        """`network`'s optimizer's iterations in this process (0 before compile())."""
        optimizer = getattr(self, {"generator": "g_optimizer", "editor": "e_optimizer",
                                   "discriminator": "d_optimizer"}[network], None)
        return tf.zeros([], tf.int64) if optimizer is None else tf.cast(optimizer.iterations, tf.int64)

    def steps_taken(self, network: str):
        """The steps `network` ("generator", "editor", "discriminator") has taken over the whole run, resumes
        included: its optimizer's iterations in this process plus what the checkpoint it resumed from counted."""
        return self._iterations(network) + self.step_offsets[network]

    def training_state(self) -> dict:
        """What a checkpoint keeps besides the networks' weights (LeCam's anchors, each network's step count),
        JSON-able."""
        return {"lecam_ema": [float(v) for v in self.lecam_ema.numpy()],
                "lecam_updates": float(self.lecam_updates.numpy()),
                "network_steps": {name: int(self.steps_taken(name).numpy()) for name in self.step_offsets}}

    def restore_training_state(self, state: Mapping, step: int) -> None:
        """Puts back a checkpoint's state at training step `step`. Checkpoints written before session 58 hold no
        step counts: G and D took one step per training step, the editor one per step after its warm-up."""
        if "lecam_ema" in state:
            self.lecam_ema.assign(tf.constant(state["lecam_ema"], tf.float32))
            self.lecam_updates.assign(float(state["lecam_updates"]))
        counts = state.get("network_steps") or {
            "generator": step, "discriminator": step, "editor": max(0, step - self.cfg.editor_from_step)}
        for name, offset in self.step_offsets.items():
            offset.assign(int(counts[name]) - int(self._iterations(name).numpy()))

    def lecam_anchors(self, real_score, fake_score):
        """Updates LeCam's moving averages with this step's mean scores; returns the debiased (a_real, a_fake)."""
        decay = self.cfg.lecam_decay
        means = tf.stop_gradient(tf.cast(tf.stack([real_score, fake_score]), tf.float32))
        ema = self.lecam_ema.assign(decay * self.lecam_ema + (1.0 - decay) * means)
        updates = self.lecam_updates.assign_add(1.0)
        anchors = ema / (1.0 - tf.pow(decay, updates))
        return anchors[0], anchors[1]

    def start_editor_training(self) -> None:
        """From the next step on, fit() runs the full G+E+D step (its step function is traced again)."""
        self.editor_training = True
        if self.train_function is not None:
            self.make_train_function(force=True)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def export_editor(self) -> keras.Model:
        """The editor that is exported, scored by the judge monitor and served."""
        return self.ema_editor if self.cfg.editor_ema else self.editor

    def call(self, inputs, training=False):
        """Generates with the EMA generator: inputs {"z", <attr>: weights}."""
        return self.ema_generator(inputs, training=training)

    # -- helpers -----------------------------------------------------------------------------------------
    def _d(self, images, conditions, training=True):
        return self.discriminator({"image": images, **conditions}, training=training)

    def _edit(self, images, conditions, training=True, background=None):
        """E at full strength; `background` [B, 1] (1 = clean to white), zeros (keep) when None."""
        strength = tf.ones([tf.shape(images)[0], 1], tf.float32)
        if background is None:
            background = tf.zeros_like(strength)
        return self.editor({"image": images, **conditions, "strength": strength, "background": background},
                           training=training)

    def _background_loss(self, real):
        """The clean-up terms on the G/E tape: the first ceil(background_share * B) of the editor's real images,
        put onto random backgrounds (models/background.py). The first half of them ask for white (target: the
        image on pure white), the rest ask to keep the background (target: the cluttered input itself).
        -> (L1 to the targets, the keep-mask's cross-entropy to the mask each pair implies), each over the images
        whose border was white (the others give no pair)."""
        batch = tf.shape(real)[0]
        n = tf.maximum(1, tf.cast(tf.math.ceil(self.cfg.background_share * tf.cast(batch, tf.float32)), tf.int32))
        pairs = bg.clean_up_pairs(real[:n])
        clean = tf.cast(tf.range(n) < (n + 1) // 2, tf.float32)[:, None]  # [n, 1]
        targets = tf.where(clean[:, :, None, None] > 0, pairs["targets"], pairs["inputs"])
        keep_all = {a: tf.zeros([n, self.vocab_sizes[a]], tf.float32) for a in self.attributes}
        out = self._edit(pairs["inputs"], keep_all, background=clean)
        weight = pairs["eligible"]

        def mean_over(values, w):  # per-pair values averaged over the pairs that count (none: 0)
            return tf.reduce_sum(values * w) / tf.maximum(tf.reduce_sum(w), 1.0)

        l1 = mean_over(losses.masked_l1(out["image"], targets), weight)
        # The keep-mask that does each pair exactly: keep the product and replace the background (white), or keep
        # everything (keep). It tells the editor where to act, which the L1 alone leaves it to find.
        keep_target = 1.0 - clean[:, :, None, None] * pairs["masks"]
        # "white": only the pairs that ask for white say where the mask goes, none asks for an all-ones mask.
        mask_weight = weight * clean[:, 0] if self.cfg.background_mask_pairs == "white" else weight
        mask_bce = mean_over(losses.mask_cross_entropy(out["mask"], keep_target), mask_weight)
        return l1, mask_bce

    def _augment(self, images):
        return diff_augment(images, self.cfg.diffaugment) if self.cfg.diffaugment else images

    def _scale(self, optimizer, loss):
        """Loss-scales for mixed precision; must run inside the tape so the scaling is differentiated."""
        return optimizer.scale_loss(loss) if needs_loss_scaling(self.cfg) else loss

    def _apply(self, optimizer, tape, scaled_loss, variables):
        grads = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(grads, variables))

    def _update_ema(self):
        # Ramp-up (as in StyleGAN): with a fixed 0.999 a few-hundred-step run would export mostly the init weights.
        # Each average ramps over its own network's steps, so an editor that starts late is not averaged at 0.999.
        # cfg.ema_ramp (G) and cfg.editor_ramp (E) set how far back each ramp reaches (models/config.py).
        # From G's step cfg.ema_late_from_step its ramp is cfg.ema_late_ramp where that is set.
        def decay_after(network, ramp, late_ramp=0.0):
            step = tf.cast(self.steps_taken(network), tf.float32)
            if late_ramp:
                ramp = tf.where(step >= float(self.cfg.ema_late_from_step), late_ramp, ramp)
            return tf.minimum(tf.constant(self.cfg.ema_decay, tf.float32), (1.0 + step) / (ramp + step))

        g_decay = decay_after("generator", self.cfg.ema_ramp, self.cfg.ema_late_ramp)
        pairs = [(e.value, g.value, g_decay) for e, g in zip(self.ema_generator.weights, self.generator.weights)]
        if self.editor_training:  # a resting editor's average would only be recomputed unchanged
            e_decay = decay_after("editor", self.cfg.editor_ramp)
            pairs += [(e.value, g.value, e_decay) for e, g in zip(self.ema_editor.weights, self.editor.weights)]

        def average(ema_var, var, decay):
            d = tf.cast(decay, ema_var.dtype)
            return ema_var.assign(d * ema_var + (1.0 - d) * tf.cast(var, ema_var.dtype))

        def update(strategy, pairs):
            for ema_var, var, decay in pairs:
                strategy.extended.update(ema_var, average, args=(var, decay), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(update, tf.distribute.get_strategy(), pairs)

    def _update_spectral_norms(self):
        """Stores each spectrally normalised conv's refined power-iteration vector (after the D step)."""
        convs = [layer for layer in self.discriminator.layers if isinstance(layer, SpectralConv2D)]
        if not convs:
            return
        pairs = [(layer.sn_u.value, layer.power_iteration()) for layer in convs]

        def update(strategy, pairs):
            for variable, value in pairs:
                strategy.extended.update(variable, lambda v, x: v.assign(x), args=(value,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(update, tf.distribute.get_strategy(), pairs)

    def _sample_conditions(self, batch, real):
        """Target conditions: the batch's own label combinations, shuffled (keeps the joint distribution)."""
        perm = tf.argsort(tf.random.uniform([batch]))
        return {a: tf.gather(real[a], perm) for a in self.attributes}

    def _keep_masks(self, batch):
        """{attr: [B, 1] float}, 1 = the edit keeps that attribute (its target weights are all zeros)."""
        cfg = self.cfg
        keep = {a: tf.cast(tf.random.uniform([batch, 1]) < cfg.keep_prob, tf.float32) for a in self.attributes}
        if cfg.single_change_prob > 0:
            single = tf.random.uniform([batch, 1]) < cfg.single_change_prob
            changed = tf.random.uniform([batch, 1], 0, len(self.attributes), tf.int32)
            keep = {a: tf.where(single, tf.cast(tf.not_equal(changed, i), tf.float32), keep[a])
                    for i, a in enumerate(self.attributes)}
        return keep

    def _r1(self, real_augmented, c_real):
        with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
            r1_tape.watch(real_augmented)
            real_sum = tf.reduce_sum(self._d(real_augmented, c_real)["adv"])
        return tf.reduce_mean(losses.r1_penalty(r1_tape.gradient(real_sum, real_augmented)))

    def _lazy_r1(self, real_augmented, c_real):
        """R1 on the (augmented) reals; every `r1_every` steps only, 0 in between (and never if r1_gamma is 0)."""
        cfg = self.cfg
        if cfg.r1_gamma <= 0:
            return tf.constant(0.0)
        if cfg.r1_every <= 1:
            return self._r1(real_augmented, c_real)
        due = tf.equal(self.steps_taken("discriminator") % cfg.r1_every, 0)
        return tf.cond(due, lambda: self._r1(real_augmented, c_real), lambda: tf.constant(0.0))

    def _twin_cross_entropy(self, out, conditions, rows):
        """TAC-GAN: the twin classifier's cross-entropy on G's samples (`rows` of the D output); 0 when off."""
        if self.cfg.twin_cls_weight <= 0:
            return tf.constant(0.0)
        return tf.add_n([tf.reduce_mean(losses.soft_cross_entropy(conditions[a], out[twin_output(a)][rows]))
                         for a in self.attributes])

    # -- training ----------------------------------------------------------------------------------------
    def train_step(self, data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        cfg = self.cfg
        with_editor = self.editor_training  # Python: fit() traces the G+D step or the full step
        real = tf.cast(data["image"], tf.float32)
        batch = tf.shape(real)[0]
        per_replica = 1.0 / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        c_real = one_hot_conditions(data, self.vocab_sizes)
        c_gen = self._sample_conditions(batch, c_real)
        if cfg.mode_seeking_weight > 0:  # second half repeats the first half's conditions (with other z)
            half = batch // 2
            c_gen = {a: tf.concat([c_gen[a][:half], c_gen[a][:half], c_gen[a][2 * half:]], 0) for a in self.attributes}
        c_tgt = self._sample_conditions(batch, c_real)
        keep = self._keep_masks(batch)
        c_tgt_in = {a: c_tgt[a] * (1.0 - keep[a]) for a in self.attributes}  # zeros = keep
        c_tgt_eff = {a: c_tgt_in[a] + keep[a] * c_real[a] for a in self.attributes}  # what the edit should show
        c_src_in = {a: c_real[a] * (1.0 - keep[a]) for a in self.attributes}  # cycle back; kept stay kept
        c_pair_eff = {a: c_tgt_in[a] + keep[a] * c_gen[a] for a in self.attributes}
        z = tf.random.normal([batch, cfg.z_dim])
        cat = lambda *ds: {a: tf.concat([d[a] for d in ds], 0) for a in self.attributes}  # noqa: E731
        # The editor part's rows (editor_batch_fraction): the batch's first `rows`; all of them at 1.0.
        if cfg.editor_batch_fraction < 1.0:
            rows = tf.maximum(1, tf.cast(tf.math.ceil(cfg.editor_batch_fraction * tf.cast(batch, tf.float32)),
                                         tf.int32))
            head = lambda d: {a: d[a][:rows] for a in self.attributes}  # noqa: E731
            real_e, z_e = real[:rows], z[:rows]
            c_real_e, c_tgt_in_e, c_tgt_eff_e, c_src_in_e, c_pair_eff_e = (
                head(c_real), head(c_tgt_in), head(c_tgt_eff), head(c_src_in), head(c_pair_eff))
        else:
            rows = batch
            real_e, z_e, c_real_e, c_tgt_in_e, c_tgt_eff_e, c_src_in_e, c_pair_eff_e = (
                real, z, c_real, c_tgt_in, c_tgt_eff, c_src_in, c_pair_eff)

        # One forward of G and E serves both steps: the D step sees them through stop_gradient (recorded on the
        # G/E tape but not differentiated), the G/E step scores them with the freshly updated D. Recomputing them
        # after the D step, as many GAN loops do, costs one more G and E forward per step for the same gradients.
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator({"z": z, **c_gen}, training=True)
            if with_editor:
                with tape.stop_recording():  # the pair target G(z, c_pair) is only a regression target for E
                    pair_target = tf.stop_gradient(self.generator({"z": z_e, **c_pair_eff_e}, training=True))
                edit_out = self._edit(real_e, c_tgt_in_e)
                edited = edit_out["image"]

            # ---- D step (not recorded on the G/E tape)
            with tape.stop_recording():
                share = cfg.d_editor_fake_share if with_editor else 0.0
                edits = [tf.stop_gradient(edited)] if share > 0 else []
                images = tf.concat([real, tf.stop_gradient(fake)] + edits, 0)
                conds = cat(c_real, c_gen, c_tgt_eff_e) if share > 0 else cat(c_real, c_gen)
                n_rows = 2 * batch + rows if share > 0 else 2 * batch  # rows before the mismatch block
                if cfg.d_mismatch_weight > 0:  # real images with other labels, as fakes
                    images = tf.concat([images, real], 0)
                    wrong = (c_tgt_eff if cfg.d_mismatch_labels == "edit"
                             else {a: tf.roll(c_real[a], shift=1, axis=0) for a in self.attributes})
                    conds = cat(conds, wrong)
                with tf.GradientTape() as d_tape:
                    augmented = self._augment(images)
                    out = self._d(augmented, conds)
                    r1 = self._lazy_r1(augmented[:batch], c_real)
                    adv = out["adv"]
                    d_real, d_fake_g = losses.d_hinge(adv[:batch], adv[batch:2 * batch])
                    d_fake = tf.reduce_mean(d_fake_g)
                    if share > 0:
                        d_fake_e = losses.d_hinge(adv[:batch], adv[2 * batch:2 * batch + rows])[1]
                        if cfg.d_editor_fake_from_step > 0:  # G's samples only until then
                            share = tf.where(self.steps_taken("discriminator") >= cfg.d_editor_fake_from_step,
                                             share, 0.0)
                        d_fake = (1.0 - share) * d_fake + share * tf.reduce_mean(d_fake_e)
                    d_adv = tf.reduce_mean(d_real) + d_fake
                    lecam = tf.constant(0.0)
                    if cfg.lecam_weight > 0:  # on G's samples only, not the edits
                        real_adv, fake_adv = adv[:batch], adv[batch:2 * batch]
                        a_real, a_fake = self.lecam_anchors(tf.reduce_mean(tf.cast(real_adv, tf.float32)),
                                                            tf.reduce_mean(tf.cast(fake_adv, tf.float32)))
                        lecam = tf.add_n([tf.reduce_mean(t) for t in
                                          losses.lecam_terms(real_adv, fake_adv, a_real, a_fake)])
                        d_adv += cfg.lecam_weight * lecam
                    d_mismatch = tf.constant(0.0)
                    if cfg.d_mismatch_weight > 0:
                        d_mismatch = tf.reduce_mean(losses.d_hinge(adv[:batch], adv[n_rows:])[1])
                        d_adv += cfg.d_mismatch_weight * d_mismatch
                    real_ce = {a: tf.reduce_mean(losses.soft_cross_entropy(c_real[a], out[a][:batch]))
                               for a in self.attributes}
                    d_cls = tf.add_n(list(real_ce.values()))
                    d_twin = self._twin_cross_entropy(out, c_gen, slice(batch, 2 * batch))
                    # lazy R1 (StyleGAN2): computed every r1_every steps and scaled by the interval
                    d_loss = (d_adv + 0.5 * cfg.r1_gamma * cfg.r1_every * r1 + cfg.cls_weight * d_cls
                              + cfg.twin_cls_weight * d_twin)
                    d_scaled = self._scale(self.d_optimizer, d_loss * per_replica)
                self._apply(self.d_optimizer, d_tape, d_scaled, self.discriminator.trainable_variables)
                self._update_spectral_norms()

            # ---- G and E steps (two optimizers)
            if with_editor:
                out = self._d(self._augment(tf.concat([fake, edited], 0)), cat(c_gen, c_tgt_eff_e))
            else:
                out = self._d(self._augment(fake), c_gen)
            adv = out["adv"]
            g_adv = tf.reduce_mean(losses.g_hinge(adv[:batch]))
            fake_ce = {a: losses.soft_cross_entropy(c_gen[a], out[a][:batch]) for a in self.attributes}
            g_cls = tf.add_n([tf.reduce_mean(ce) for ce in fake_ce.values()])  # reported as before
            g_cls_loss = g_cls  # what G minimises: floored at the real images' cross-entropy when configured
            if cfg.g_cls_real_floor > 0:
                floor = {a: cfg.g_cls_real_floor * real_ce[a] for a in self.attributes}
                g_cls_loss = tf.add_n([tf.reduce_mean(losses.excess_over(fake_ce[a], floor[a]))
                                       for a in self.attributes])
            g_twin = self._twin_cross_entropy(out, c_gen, slice(0, batch))
            g_loss = g_adv + cfg.cls_weight * g_cls_loss - cfg.twin_cls_weight * g_twin
            mode_seeking = tf.constant(0.0)
            if cfg.mode_seeking_weight > 0:
                half = batch // 2
                ratio = (tf.reduce_mean(tf.abs(fake[:half] - fake[half:2 * half]), axis=[1, 2, 3])
                         / tf.reduce_mean(tf.abs(z[:half] - z[half:2 * half]), axis=1))
                mode_seeking = tf.reduce_mean(1.0 / (ratio + 1e-5))
                g_loss += cfg.mode_seeking_weight * mode_seeking
            g_scaled = self._scale(self.g_optimizer, g_loss * per_replica)
            if with_editor:
                e_values = self._editor_loss(adv[batch:], {a: out[a][batch:] for a in self.attributes}, real_e,
                                             fake[:rows], edit_out, pair_target, c_real_e, c_tgt_in_e, c_tgt_eff_e,
                                             c_src_in_e)
                e_scaled = self._scale(self.e_optimizer, e_values["e_loss"] * per_replica)
        self._apply(self.g_optimizer, tape, g_scaled, self.generator.trainable_variables)
        if with_editor:
            self._apply(self.e_optimizer, tape, e_scaled, self.editor.trainable_variables)
        del tape
        self._update_ema()

        values = {"d_loss": d_loss, "g_loss": g_loss, "d_real": tf.reduce_mean(d_real),
                  "d_fake": d_fake, "r1": r1, "d_cls": d_cls, "g_cls": g_cls, "mode_seeking": mode_seeking,
                  "d_twin": d_twin, "g_twin": g_twin, "g_cls_loss": g_cls_loss, "d_mismatch": d_mismatch}
        if cfg.lecam_weight > 0:
            values["lecam"] = lecam
        if with_editor:  # the G+D steps of the editor's warm-up report no editor terms (not zeros)
            values.update(e_values)
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in self.trackers if name in values}

    def _editor_loss(self, adv, cls_logits, real, fake, edit_out, pair_target, c_real, c_tgt_in, c_tgt_eff,
                     c_src_in) -> Dict[str, tf.Tensor]:
        """E's loss terms, on the G/E tape: D's outputs on the edits (`adv`, `cls_logits`), the paired and the
        cycle edit, the keep-mask cap. -> {"e_loss": total, and each term as reported}."""
        cfg = self.cfg
        batch = tf.shape(real)[0]
        cat = lambda *ds: {a: tf.concat([d[a] for d in ds], 0) for a in self.attributes}  # noqa: E731
        edited = edit_out["image"]
        e_adv = tf.reduce_mean(losses.g_hinge(adv))
        e_cls = tf.add_n([tf.reduce_mean(losses.soft_cross_entropy(c_tgt_eff[a], cls_logits[a]))
                          for a in self.attributes])
        # co-design: G supplies the pair (same z, target attributes) for free: E(G(z, c_gen), c_tgt) ~ G(z, c_pair);
        # cycle: E(E(x, c_tgt), c_src) ~ x. Both edits run as one 2B editor call.
        second = self._edit(tf.concat([tf.stop_gradient(fake), edited], 0), cat(c_tgt_in, c_src_in))["image"]
        pair_l1 = tf.reduce_mean(losses.masked_l1(second[:batch], pair_target))
        cycle_l1 = tf.reduce_mean(losses.masked_l1(second[batch:], real))
        e_loss = e_adv + self.editor_cls_weight * e_cls + cfg.pair_weight * pair_l1 + cfg.cycle_weight * cycle_l1
        background_l1 = background_mask = tf.constant(0.0)
        if cfg.background_share > 0:
            background_l1, background_mask = self._background_loss(real)
            e_loss += cfg.background_weight * background_l1 + cfg.background_mask_weight * background_mask
        mask_cap = tf.constant(0.0)
        if cfg.mask_cap_weight > 0:  # keep-mask mean per edit above the cap: near-identity edits ...
            per_edit = tf.reduce_mean(edit_out["mask"], axis=[1, 2, 3])
            # ... of the edits that change something: keeping every attribute (or redrawing the same values)
            # asks for the input back, where a keep-mask of 1 is right.
            changes = tf.add_n([tf.reduce_sum(tf.abs(c_tgt_eff[a] - c_real[a]), axis=1) for a in self.attributes])
            changing = tf.cast(changes > 1e-3, tf.float32)
            mask_cap = (tf.reduce_sum(tf.nn.relu(per_edit - cfg.mask_cap) * changing)
                        / tf.maximum(tf.reduce_sum(changing), 1.0))
            e_loss += cfg.mask_cap_weight * mask_cap
        return {"e_loss": e_loss, "e_adv": e_adv, "e_cls": e_cls, "pair_l1": pair_l1, "cycle_l1": cycle_l1,
                "mask_mean": tf.reduce_mean(edit_out["mask"]), "mask_cap": mask_cap, "background_l1": background_l1,
                "background_mask": background_mask}

class EditorFromStep(keras.callbacks.Callback):
    """Switches fit() from the G+D step to the full step when step `cfg.editor_from_step` is reached (counted from
    `start_step`, the resumed run's first step)."""

    def __init__(self, gan: VitrineGAN, start_step: int = 0):
        super().__init__()
        self.gan, self.step = gan, start_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if not self.gan.editor_training and self.step >= self.gan.cfg.editor_from_step:
            log.info("Step %d: the editor's warm-up is over; training G, E and D from here (tracing the full step)",
                     self.step)
            self.gan.start_editor_training()


def build_vitrine_gan(cfg: ModelConfig, vocab_sizes: Mapping[str, int], compile: bool = True) -> VitrineGAN:
    """Seeds Python/NumPy/TF with cfg.seed, builds G, E, D and the VitrineGAN (compiled with Adam from cfg).

    Call inside `strategy.scope()` for multi-device training.
    """
    from models import networks

    keras.utils.set_random_seed(cfg.seed)
    gan = VitrineGAN(networks.build_generator(cfg, vocab_sizes), networks.build_editor(cfg, vocab_sizes),
                     networks.build_discriminator(cfg, vocab_sizes), cfg, vocab_sizes)
    if compile:
        gan.compile()
    return gan
