"""JAX ports of the two training steps that bench/train_throughput.py times, for machines without TensorFlow.

The lent GPU machines run Python 3.12 with JAX, PyTorch and no TensorFlow, and nothing can be installed there
from a registry; TensorFlow's GPU build (the TF wheel plus its CUDA 12 libraries, ~2.4 GB) cannot travel in the
64 MiB a call may carry. Keras 3 (2.4 MB) can, and the Vitrine networks are Keras 3 layers on `keras.ops`: under
KERAS_BACKEND=jax, `models.networks` builds the same G, E and D, and `models.baseline_networks` the same baseline.

What is ported is the step's work, pass for pass, so that its throughput stands for the TensorFlow step's:
  * full step (models/gan.py `VitrineGAN.train_step`): one G forward (+ the pair target, no gradient), one E
    forward on the editor's rows; a D step on [real; G fakes; E edits] with DiffAugment, hinge, the auxiliary
    classifier, lazy R1 (double backprop, under `lax.cond` as `tf.cond` in TF); then G's and E's losses scored by
    the updated D on [fakes; edits], with mode seeking, the real-CE floor, the second editor call (pair + cycle),
    the background clean-up pairs (the same H + W max-pool reconstruction) and the keep-mask cap; G's and E's
    gradients taken separately (two backward passes through D, as the persistent tape's two `gradient` calls);
    Adam with global-norm clipping, loss scaling under mixed precision; both EMA updates.
    `one_backward=True` (not the TF step) takes G's and E's gradients in one backward pass of their summed losses
    through D: the same gradients (tests/test_jax_steps.py), 3.6 % less work at the gpu widths by XLA's count, and
    no faster on an H200 (bench/results/train_throughput_jax_h200_one_backward.json).
  * baseline (models/baseline_dcgan.py): keras.io's conditional DCGAN, a D step and a G step with BCE.
Options the port lacks (twin classifier, wrong-label pairs, spectral norm, minibatch stddev, the editor's warm-up,
a delayed D edit share) are refused, not silently skipped. All are off in every preset but the warm-up, which
cpu-quick runs since session 47: the throughput benchmarks turn it off (pipeline/presets.py full_step_preset), and
bench/train_gan_jax.py asks for --set model.editor_from_step=0. Randomness is JAX's, not TF's: the step's
cost is the same, its numbers are not. bench/train_gan_jax.py trains with `FullStep` where TensorFlow cannot run;
its models are scored by the pipeline's evaluator (bench/import_jax_weights.py), never pushed by the pipeline.
"""
import math
from typing import Dict, Mapping

import jax
import jax.numpy as jnp
import keras

from models.config import ModelConfig

UNPORTED = {
    "twin_cls_weight": lambda c: c.twin_cls_weight > 0,
    "d_mismatch_weight": lambda c: c.d_mismatch_weight > 0,
    "d_spectral_norm": lambda c: c.d_spectral_norm,
    "minibatch_std_group": lambda c: c.minibatch_std_group > 0,
    "editor_from_step": lambda c: c.editor_from_step > 0,
    "d_editor_fake_from_step": lambda c: c.d_editor_fake_from_step > 0,
    "single_change_prob": lambda c: c.single_change_prob > 0,
}
WHITE_THRESHOLD, BORDER_WHITE_MIN = 0.8, 0.9  # as models/background.py


def check_ported(cfg: ModelConfig) -> None:
    on = [name for name, is_on in UNPORTED.items() if is_on(cfg)]
    if on:
        raise NotImplementedError(f"the JAX port of the full step does not cover {on}; turn them off with --set "
                                  "(e.g. model.editor_from_step=0) or time them with bench/train_throughput.py "
                                  "(TensorFlow)")
    if keras.backend.backend() != "jax":
        raise RuntimeError(f"set KERAS_BACKEND=jax before importing keras (it is {keras.backend.backend()!r})")


# ---- losses (models/losses.py) ------------------------------------------------------------------------------
def _f32(x):
    return x.astype(jnp.float32)


def soft_ce(weights, logits):
    return -jnp.sum(weights * jax.nn.log_softmax(_f32(logits), axis=-1), axis=-1)


def l1(a, b):
    return jnp.mean(jnp.abs(_f32(a) - _f32(b)), axis=(1, 2, 3))


def mask_bce(mask, target, eps=1e-6):
    mask = jnp.clip(_f32(mask), eps, 1.0 - eps)
    return -jnp.mean(target * jnp.log(mask) + (1.0 - target) * jnp.log(1.0 - mask), axis=(1, 2, 3))


# ---- DiffAugment (models/augment.py) ------------------------------------------------------------------------
def _brightness(key, x):
    return x + (jax.random.uniform(key, (x.shape[0], 1, 1, 1)) - 0.5)


def _saturation(key, x):
    mean = jnp.mean(x, axis=3, keepdims=True)
    return (x - mean) * (jax.random.uniform(key, (x.shape[0], 1, 1, 1)) * 2.0) + mean


def _contrast(key, x):
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (jax.random.uniform(key, (x.shape[0], 1, 1, 1)) + 0.5) + mean


def _translation(key, x, ratio=0.125):
    batch, height, width = x.shape[:3]
    sh, sw = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ky, kx = jax.random.split(key)
    ty = jax.random.randint(ky, (batch, 1), -sh, sh + 1)
    tx = jax.random.randint(kx, (batch, 1), -sw, sw + 1)
    padded = jnp.pad(x, ((0, 0), (sh, sh), (sw, sw), (0, 0)))
    rows = jnp.arange(height)[None, :] + sh + ty  # [B, H]
    cols = jnp.arange(width)[None, :] + sw + tx
    x = jnp.take_along_axis(padded, rows[:, :, None, None], axis=1)
    return jnp.take_along_axis(x, cols[:, None, :, None], axis=2)


def _cutout(key, x, ratio=0.5):
    batch, height, width = x.shape[:3]
    ch, cw = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ky, kx = jax.random.split(key)
    cy = jax.random.randint(ky, (batch, 1, 1), 0, height + (1 - ch % 2))
    cx = jax.random.randint(kx, (batch, 1, 1), 0, width + (1 - cw % 2))
    inside = ((jnp.abs(jnp.arange(height)[None, :, None] - cy) < ch // 2 + 1)
              & (jnp.abs(jnp.arange(width)[None, None, :] - cx) < cw // 2 + 1))
    return x * (~inside).astype(x.dtype)[..., None]


AUGMENTS = {"color": (_brightness, _contrast), "saturation": (_saturation,), "translation": (_translation,),
            "cutout": (_cutout,)}


def diff_augment(key, x, policy: str):
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        for fn in AUGMENTS[name]:
            key, sub = jax.random.split(key)
            x = fn(sub, x)
    return x


# ---- background clean-up pairs (models/background.py) -------------------------------------------------------
def _near_white(images):
    return (jnp.min(images, axis=-1, keepdims=True) > WHITE_THRESHOLD).astype(jnp.float32)


def _border(resolution):
    width = max(1, round(4 * resolution / 224))
    inside = jnp.pad(jnp.zeros((resolution - 2 * width,) * 2), width, constant_values=1.0)
    return inside[None, :, :, None]


def clean_up_pairs(key, images):
    res = images.shape[1]
    white = _near_white(images)
    border = _border(res)

    def grow(_, mask):
        pooled = jax.lax.reduce_window(mask, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")
        return pooled * white

    masks = jax.lax.fori_loop(0, 2 * res, grow, white * border)
    n = images.shape[0]
    k = jax.random.split(key, 5)
    colours = jax.random.uniform(k[0], (n, 2, 3), minval=-1.0, maxval=1.0)
    angle = jax.random.uniform(k[1], (n, 1, 1), maxval=6.2832)
    steepness = jax.random.uniform(k[2], (n, 1, 1))
    axis = jnp.linspace(-1.0, 1.0, res)
    ys, xs = jnp.meshgrid(axis, axis, indexing="ij")
    t = ((jnp.cos(angle) * xs[None] + jnp.sin(angle) * ys[None]) * steepness * 0.5 + 0.5)[..., None]
    backgrounds = colours[:, None, None, 0] * (1.0 - t) + colours[:, None, None, 1] * t
    texture = jax.image.resize(jax.random.uniform(k[3], (n, 4, 4, 3), minval=-1.0, maxval=1.0), (n, res, res, 3),
                               "bilinear")
    backgrounds = jnp.clip(backgrounds + texture * jax.random.uniform(k[4], (n, 1, 1, 1), maxval=0.5), -1.0, 1.0)
    eligible = (jnp.sum(white * border, axis=(1, 2, 3)) / jnp.sum(border) >= BORDER_WHITE_MIN).astype(jnp.float32)
    return {"inputs": masks * backgrounds + (1.0 - masks) * images, "targets": masks + (1.0 - masks) * images,
            "masks": masks, "eligible": eligible}


# ---- state ---------------------------------------------------------------------------------------------------
def _adam(lr, beta_1, beta_2, clipnorm=None, mixed=False):
    opt = keras.optimizers.Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, global_clipnorm=clipnorm)
    return keras.optimizers.LossScaleOptimizer(opt) if mixed else opt


def _values(variables):
    return [v.value for v in variables]


class Net:
    """A Keras model, its optimizer, and where the optimizer keeps its loss scale (None without scaling)."""

    def __init__(self, model, optimizer):
        self.model, self.opt = model, optimizer
        optimizer.build(model.trainable_variables)
        self.scale_index = None
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            self.scale_index = [id(v) for v in optimizer.variables].index(id(optimizer.dynamic_scale))

    def state(self):
        return {"vars": _values(self.model.trainable_variables), "opt": _values(self.opt.variables)}

    def __call__(self, params, inputs):
        out, _ = self.model.stateless_call(params, _values(self.model.non_trainable_variables), inputs,
                                           training=True)
        return out

    def scale(self, state):
        return 1.0 if self.scale_index is None else state["opt"][self.scale_index]

    def apply(self, state, grads):
        new_vars, new_opt = self.opt.stateless_apply(state["opt"], grads, state["vars"])
        return {"vars": new_vars, "opt": new_opt}


def _iterations(net: Net, state):
    opt = net.opt.inner_optimizer if net.scale_index is not None else net.opt
    return state["opt"][[id(v) for v in net.opt.variables].index(id(opt.iterations))]


def _conditions(ids: Mapping[str, jnp.ndarray], vocab: Mapping[str, int]) -> Dict[str, jnp.ndarray]:
    return {a: jax.nn.one_hot(ids[a], vocab[a], dtype=jnp.float32) for a in vocab}


# ---- the full G+E+D step -------------------------------------------------------------------------------------
class FullStep:
    """The Vitrine step (see the module docstring); `init()` -> state, `step(state, batch, key)` -> (state, logs)."""

    def __init__(self, cfg: ModelConfig, vocab_sizes: Mapping[str, int], one_backward: bool = False):
        from models import networks

        check_ported(cfg)
        self.cfg, self.vocab = cfg, {a: int(vocab_sizes[a]) for a in cfg.condition_attributes}
        self.one_backward = one_backward  # not the TF step's two passes: the lead that bench rows time apart
        keras.utils.set_random_seed(cfg.seed)
        def adam(lr):  # models/gan.py _make_optimizer
            return _adam(lr, cfg.beta1, cfg.beta2, cfg.grad_clip_norm or None, cfg.mixed_precision)

        self.g = Net(networks.build_generator(cfg, self.vocab), adam(cfg.g_lr))
        self.e = Net(networks.build_editor(cfg, self.vocab), adam(cfg.e_lr))
        self.d = Net(networks.build_discriminator(cfg, self.vocab), adam(cfg.d_lr))
        self.editor_cls_weight = cfg.cls_weight if cfg.editor_cls_weight < 0 else cfg.editor_cls_weight

    def params(self) -> int:
        return int(sum(n.model.count_params() for n in (self.g, self.e, self.d)))

    def init(self):
        g, e = self.g.state(), self.e.state()
        # the averages start as copies (own buffers: the jitted step donates its whole state)
        return {"g": g, "e": e, "d": self.d.state(), "ema_g": [jnp.array(v, copy=True) for v in g["vars"]],
                "ema_e": [jnp.array(v, copy=True) for v in e["vars"]],
                # LeCam's moving sums of D's mean score on reals and on G's samples, and their update count
                "lecam": jnp.zeros((3,), jnp.float32)}

    def _edit(self, e_vars, images, conditions, background=None):
        n = images.shape[0]
        strength = jnp.ones((n, 1), jnp.float32)
        background = jnp.zeros_like(strength) if background is None else background
        return self.e(e_vars, {"image": images, **conditions, "strength": strength, "background": background})

    def _keep(self, key, batch):
        keys = jax.random.split(key, len(self.vocab))
        return {a: (jax.random.uniform(k, (batch, 1)) < self.cfg.keep_prob).astype(jnp.float32)
                for a, k in zip(self.vocab, keys)}

    def _shuffled(self, key, c):
        perm = jnp.argsort(jax.random.uniform(key, (next(iter(c.values())).shape[0],)))
        return {a: c[a][perm] for a in self.vocab}

    def step(self, state, batch, key):
        cfg, attrs = self.cfg, tuple(self.vocab)
        cat = lambda *ds: {a: jnp.concatenate([d[a] for d in ds], 0) for a in attrs}  # noqa: E731
        real = _f32(batch["image"])
        n = real.shape[0]
        keys = iter(jax.random.split(key, 12))
        c_real = _conditions(batch, self.vocab)
        c_gen = self._shuffled(next(keys), c_real)
        if cfg.mode_seeking_weight > 0:
            half = n // 2
            c_gen = {a: jnp.concatenate([c_gen[a][:half], c_gen[a][:half], c_gen[a][2 * half:]], 0) for a in attrs}
        c_tgt = self._shuffled(next(keys), c_real)
        keep = self._keep(next(keys), n)
        c_tgt_in = {a: c_tgt[a] * (1.0 - keep[a]) for a in attrs}
        c_tgt_eff = {a: c_tgt_in[a] + keep[a] * c_real[a] for a in attrs}
        c_src_in = {a: c_real[a] * (1.0 - keep[a]) for a in attrs}
        c_pair_eff = {a: c_tgt_in[a] + keep[a] * c_gen[a] for a in attrs}
        z = jax.random.normal(next(keys), (n, cfg.z_dim))
        rows = max(1, math.ceil(cfg.editor_batch_fraction * n)) if cfg.editor_batch_fraction < 1.0 else n
        head = lambda d: {a: d[a][:rows] for a in attrs}  # noqa: E731
        real_e, z_e = real[:rows], z[:rows]
        c_real_e, c_tgt_in_e, c_tgt_eff_e, c_src_in_e, c_pair_eff_e = map(
            head, (c_real, c_tgt_in, c_tgt_eff, c_src_in, c_pair_eff))

        # one forward of G and E serves both steps (the TF step's persistent tape): vjp keeps it for the backward
        def forward(g_vars, e_vars):
            out = self._edit(e_vars, real_e, c_tgt_in_e)
            return self.g(g_vars, {"z": z, **c_gen}), out["image"], out["mask"]

        (fake, edited, mask), forward_vjp = jax.vjp(forward, state["g"]["vars"], state["e"]["vars"])
        pair_target = jax.lax.stop_gradient(self.g(state["g"]["vars"], {"z": z_e, **c_pair_eff_e}))

        # ---- D step
        share = cfg.d_editor_fake_share
        images = jnp.concatenate([real, fake] + ([edited] if share > 0 else []), 0)
        conds = cat(c_real, c_gen, c_tgt_eff_e) if share > 0 else cat(c_real, c_gen)
        aug_key = next(keys)
        d_iter = _iterations(self.d, state["d"])

        def d_loss_fn(d_vars):
            augmented = diff_augment(aug_key, images, cfg.diffaugment) if cfg.diffaugment else images
            out = self.d(d_vars, {"image": augmented, **conds})
            adv = _f32(out["adv"]).reshape(-1)

            def r1():
                def real_sum(x):
                    return jnp.sum(_f32(self.d(d_vars, {"image": x, **c_real})["adv"]))
                grads = jax.grad(real_sum)(augmented[:n])
                return jnp.mean(jnp.sum(jnp.square(_f32(grads)), axis=(1, 2, 3)))

            if cfg.r1_gamma <= 0:
                r1_value = jnp.float32(0.0)
            elif cfg.r1_every <= 1:
                r1_value = r1()
            else:
                r1_value = jax.lax.cond(d_iter % cfg.r1_every == 0, r1, lambda: jnp.float32(0.0))
            d_real = jax.nn.relu(1.0 - adv[:n])
            d_fake = jnp.mean(jax.nn.relu(1.0 + adv[n:2 * n]))
            if share > 0:
                d_fake = (1.0 - share) * d_fake + share * jnp.mean(jax.nn.relu(1.0 + adv[2 * n:2 * n + rows]))
            real_ce = {a: jnp.mean(soft_ce(c_real[a], out[a][:n])) for a in attrs}
            d_cls = sum(real_ce.values())
            d_loss = (jnp.mean(d_real) + d_fake + 0.5 * cfg.r1_gamma * cfg.r1_every * r1_value
                      + cfg.cls_weight * d_cls)
            lecam_state, lecam = state["lecam"], jnp.float32(0.0)
            if cfg.lecam_weight > 0:  # VitrineGAN.lecam_anchors + losses.lecam_terms, on G's samples only
                decay = cfg.lecam_decay
                means = jax.lax.stop_gradient(jnp.stack([jnp.mean(adv[:n]), jnp.mean(adv[n:2 * n])]))
                ema = decay * lecam_state[:2] + (1.0 - decay) * means
                updates = lecam_state[2] + 1.0
                a_real, a_fake = ema / (1.0 - decay ** updates)
                lecam = (jnp.mean(jnp.square(jax.nn.relu(adv[:n] - a_fake)))
                         + jnp.mean(jnp.square(jax.nn.relu(a_real - adv[n:2 * n]))))
                d_loss = d_loss + cfg.lecam_weight * lecam
                lecam_state = jnp.concatenate([ema, updates[None]])
            return d_loss * self.d.scale(state["d"]), (d_loss, real_ce, lecam_state, lecam)

        d_grads, (d_loss, real_ce, lecam_state, lecam) = jax.grad(d_loss_fn, has_aux=True)(state["d"]["vars"])
        d_state = self.d.apply(state["d"], d_grads)
        real_ce = jax.lax.stop_gradient(real_ce)

        # ---- G and E losses, scored by the updated D
        bg_key, ge_aug_key = next(keys), next(keys)

        def ge_losses(fake, edited, mask, e_vars):
            scored = jnp.concatenate([fake, edited], 0)
            scored = diff_augment(ge_aug_key, scored, cfg.diffaugment) if cfg.diffaugment else scored
            out = self.d(d_state["vars"], {"image": scored, **cat(c_gen, c_tgt_eff_e)})
            adv = _f32(out["adv"]).reshape(-1)
            g_adv = jnp.mean(-adv[:n])
            fake_ce = {a: soft_ce(c_gen[a], out[a][:n]) for a in attrs}
            if cfg.g_cls_real_floor > 0:
                g_cls = sum(jnp.mean(jax.nn.relu(fake_ce[a] - cfg.g_cls_real_floor * real_ce[a])) for a in attrs)
            else:
                g_cls = sum(jnp.mean(fake_ce[a]) for a in attrs)
            g_loss = g_adv + cfg.cls_weight * g_cls
            if cfg.mode_seeking_weight > 0:
                half = n // 2
                ratio = (jnp.mean(jnp.abs(fake[:half] - fake[half:2 * half]), axis=(1, 2, 3))
                         / jnp.mean(jnp.abs(z[:half] - z[half:2 * half]), axis=1))
                g_loss += cfg.mode_seeking_weight * jnp.mean(1.0 / (ratio + 1e-5))
            # the editor's terms (VitrineGAN._editor_loss)
            e_adv = jnp.mean(-adv[n:])
            e_cls = sum(jnp.mean(soft_ce(c_tgt_eff_e[a], out[a][n:])) for a in attrs)
            second = self._edit(e_vars, jnp.concatenate([jax.lax.stop_gradient(fake[:rows]), edited], 0),
                                cat(c_tgt_in_e, c_src_in_e))["image"]
            e_loss = (e_adv + self.editor_cls_weight * e_cls
                      + cfg.pair_weight * jnp.mean(l1(second[:rows], pair_target))
                      + cfg.cycle_weight * jnp.mean(l1(second[rows:], real_e)))
            if cfg.background_share > 0:
                m = max(1, math.ceil(cfg.background_share * rows))
                pairs = clean_up_pairs(bg_key, real_e[:m])
                clean = (jnp.arange(m) < (m + 1) // 2).astype(jnp.float32)[:, None]
                targets = jnp.where(clean[:, :, None, None] > 0, pairs["targets"], pairs["inputs"])
                bg_out = self._edit(e_vars, pairs["inputs"], {a: jnp.zeros((m, self.vocab[a])) for a in attrs},
                                    background=clean)
                w = pairs["eligible"]
                mean_over = lambda v, w: jnp.sum(v * w) / jnp.maximum(jnp.sum(w), 1.0)  # noqa: E731
                keep_target = 1.0 - clean[:, :, None, None] * pairs["masks"]
                mask_w = w * clean[:, 0] if cfg.background_mask_pairs == "white" else w
                e_loss += (cfg.background_weight * mean_over(l1(bg_out["image"], targets), w)
                           + cfg.background_mask_weight * mean_over(mask_bce(bg_out["mask"], keep_target), mask_w))
            if cfg.mask_cap_weight > 0:
                per_edit = jnp.mean(_f32(mask), axis=(1, 2, 3))
                changes = sum(jnp.sum(jnp.abs(c_tgt_eff_e[a] - c_real_e[a]), axis=1) for a in attrs)
                changing = (changes > 1e-3).astype(jnp.float32)
                e_loss += cfg.mask_cap_weight * (jnp.sum(jax.nn.relu(per_edit - cfg.mask_cap) * changing)
                                                 / jnp.maximum(jnp.sum(changing), 1.0))
            return g_loss * self.g.scale(state["g"]), e_loss * self.e.scale(state["e"]), g_loss, e_loss

        primal, ge_vjp = jax.vjp(ge_losses, fake, edited, mask, state["e"]["vars"])
        g_scaled, e_scaled, g_loss, e_loss = primal
        zero, one = jnp.zeros_like(g_scaled), jnp.ones_like(g_scaled)
        if self.one_backward:
            # one backward of the sum: G's loss reaches no edit and E's loss no fake (D scores each image on its own,
            # the editor's second call sees the fakes through stop_gradient), so each network gets its own gradient
            d_fake, d_edited, d_mask, e_direct = ge_vjp((one, one, zero, zero))
            g_grads, e_via_edit = forward_vjp((d_fake, d_edited, d_mask))
        else:
            # two backward passes, as the TF step's two tape.gradient calls (G's loss, then E's)
            d_fake, _, _, _ = ge_vjp((one, zero, zero, zero))
            _, d_edited, d_mask, e_direct = ge_vjp((zero, one, zero, zero))
            g_grads, _ = forward_vjp((d_fake, jnp.zeros_like(edited), jnp.zeros_like(mask)))
            _, e_via_edit = forward_vjp((jnp.zeros_like(fake), d_edited, d_mask))
        e_grads = [a + b for a, b in zip(e_via_edit, e_direct)]
        g_state = self.g.apply(state["g"], g_grads)
        e_state = self.e.apply(state["e"], e_grads)

        def ema(old, new, net_state, net, ramp, late_ramp=0.0):
            step = _iterations(net, net_state).astype(jnp.float32)  # after this step's update, as TF reads it
            if late_ramp:  # G's ramp from its step ema_late_from_step, as the TF step's
                ramp = jnp.where(step >= float(cfg.ema_late_from_step), late_ramp, ramp)
            decay = jnp.minimum(cfg.ema_decay, (1.0 + step) / (ramp + step))
            return [decay * o + (1.0 - decay) * v for o, v in zip(old, new)]

        new_state = {"g": g_state, "e": e_state, "d": d_state,
                     "ema_g": ema(state["ema_g"], g_state["vars"], g_state, self.g, cfg.ema_ramp,
                                  cfg.ema_late_ramp),
                     "ema_e": ema(state["ema_e"], e_state["vars"], e_state, self.e, cfg.editor_ramp),
                     "lecam": lecam_state}
        logs = {"d_loss": d_loss, "g_loss": g_loss, "e_loss": e_loss}
        if cfg.lecam_weight > 0:
            logs["lecam"] = lecam
        return new_state, logs


# ---- the baseline conditional DCGAN step ---------------------------------------------------------------------
class BaselineStep:
    """keras.io's conditional DCGAN (models/baseline_dcgan.py): D step on [fakes; reals] + G step, BCE, Adam."""

    def __init__(self, cfg: ModelConfig, vocab_sizes: Mapping[str, int]):
        from models.baseline_networks import build_baseline_discriminator, build_baseline_generator

        self.cfg, self.vocab = cfg, {a: int(vocab_sizes[a]) for a in cfg.condition_attributes}
        keras.utils.set_random_seed(cfg.seed)
        # models/baseline_dcgan.py: keras' Adam with beta_1 0.5, no clipping
        self.g = Net(build_baseline_generator(cfg, self.vocab), _adam(cfg.g_lr, 0.5, 0.999))
        self.d = Net(build_baseline_discriminator(cfg, self.vocab), _adam(cfg.d_lr, 0.5, 0.999))

    def params(self) -> int:
        return int(self.g.model.count_params() + self.d.model.count_params())

    def init(self):
        return {"g": self.g.state(), "d": self.d.state()}

    def step(self, state, batch, key):
        real = _f32(batch["image"])
        n, res = real.shape[0], real.shape[1]
        labels = jnp.concatenate(list(_conditions(batch, self.vocab).values()), -1)
        tiled = jnp.broadcast_to(labels[:, None, None, :], (n, res, res, labels.shape[-1]))
        k1, k2 = jax.random.split(key)

        def bce(logits, target):  # keras BinaryCrossentropy(from_logits=True), mean
            logits = _f32(logits)
            return jnp.mean(jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits))))

        fake = self.g(state["g"]["vars"], jnp.concatenate([jax.random.normal(k1, (n, self.cfg.z_dim)), labels], -1))
        images = jnp.concatenate([jnp.concatenate([fake, tiled], -1), jnp.concatenate([real, tiled], -1)], 0)
        targets = jnp.concatenate([jnp.ones((n, 1)), jnp.zeros((n, 1))], 0)
        d_loss, d_grads = jax.value_and_grad(lambda v: bce(self.d(v, images), targets))(state["d"]["vars"])
        d_state = self.d.apply(state["d"], d_grads)
        z = jax.random.normal(k2, (n, self.cfg.z_dim))

        def g_loss_fn(g_vars):
            fake = self.g(g_vars, jnp.concatenate([z, labels], -1))
            return bce(self.d(d_state["vars"], jnp.concatenate([fake, tiled], -1)), jnp.zeros((n, 1)))

        g_loss, g_grads = jax.value_and_grad(g_loss_fn)(state["g"]["vars"])
        return {"g": self.g.apply(state["g"], g_grads), "d": d_state}, {"d_loss": d_loss, "g_loss": g_loss}
