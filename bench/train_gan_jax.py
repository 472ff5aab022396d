"""Train a preset's G+E+D on real catalog images where TensorFlow cannot run: the JAX port of the step.

    KERAS_BACKEND=jax python bench/train_gan_jax.py --arrays .jaxdata/train_64.npz --preset gpu \
        --max-seconds 330 --out RUN_DIR

Made for the lent GPU machines (JAX, no TensorFlow; see bench/train_throughput_jax.py for carrying Keras there).
The step is bench/jax_steps.py `FullStep`, the TF step pass for pass; the input is bench/jax_input.py: the
Transform's training records (bench/export_train_arrays.py, made where the pipeline ran), a fresh shuffle each
epoch and `augment_example` ported to JAX. What differs from the Trainer: JAX's random streams, no learning-rate
decay (no preset uses one), and the weights leave as arrays. With `--judge` (arrays exported with
`bench/export_train_arrays.py --judge`) the Trainer's judge monitor runs too (bench/jax_monitor.py): a check every
`judge_every` steps, each side's best check picked by the Trainer's rules (models/judge_pick.py), early stop, and
the picked weights are what is saved, with the last EMA generator beside them (`last_ema_generator`, for a pick
against last comparison; `bench/import_jax_weights.py --generator last`). Without it the last weights are saved.

Writes to --out: `manifest.json` (preset, overrides, vocabularies, steps, each network's variables and where they
are), the EMA generator's and EMA editor's trainable variables as `<network>.partNN.npz` files of at most
--part-mib each (float16 by default: the gpu preset's EMA editor is 17 M parameters, 69 MB in float32, over what
a call may bring back), and `train_log.json` (losses every --log-every steps, timings). The weights are saved
every --save-every-seconds too, so a run stopped by its call's limit still leaves its latest weights.
bench/import_jax_weights.py turns them into a checkpoint that `bench/train_quality.py --checkpoint` scores with
the pipeline's own evaluator and judge.
"""
import argparse
import json
import math
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.portable import portable_command  # noqa: E402

# saved network -> the FullStep net whose variables it holds; last_ema_generator is saved beside a judge's pick
EXPORTED = {"ema_generator": "g", "ema_editor": "e", "last_ema_generator": "g"}


def save_weights(stepper, weights: dict, out: pathlib.Path, dtype: str, part_mib: float, manifest: dict) -> dict:
    """Writes networks' variables ({EXPORTED name: arrays}) as npz parts (each written whole, then renamed);
    returns the manifest."""
    import numpy as np

    networks = {}
    for name, arrays in weights.items():
        model = getattr(stepper, EXPORTED[name]).model
        values = [np.asarray(v, dtype=dtype) for v in arrays]
        parts, current, size, entries = [], {}, 0, []
        for index, (variable, value) in enumerate(zip(model.trainable_variables, values)):
            if current and size + value.nbytes > part_mib * 2**20:
                parts.append(current)
                current, size = {}, 0
            current[f"w{index:04d}"] = value
            size += value.nbytes
            entries.append({"path": variable.path, "shape": list(value.shape), "part": len(parts),
                            "key": f"w{index:04d}"})
        parts.append(current)
        files = []
        for number, arrays in enumerate(parts):
            target = out / f"{name}.part{number:02d}.npz"
            partial = out / f"{name}.part{number:02d}.tmp.npz"
            np.savez(partial, **arrays)
            os.replace(partial, target)
            files.append(target.name)
        networks[name] = {"files": files, "variables": entries}
    manifest = dict(manifest, networks=networks, weights_dtype=dtype)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arrays", required=True, help="bench/export_train_arrays.py output (.npz)")
    parser.add_argument("--preset", default="gpu")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="preset override")
    parser.add_argument("--steps", type=int, help="default: the preset's train_steps")
    parser.add_argument("--max-seconds", type=float, default=0.0,
                        help="stop after this many seconds of training (after the first step's compile); 0: none")
    parser.add_argument("--log-every", type=int, help="default: the preset's log_every")
    parser.add_argument("--save-every-seconds", type=float, default=120.0)
    parser.add_argument("--weights-dtype", choices=["float16", "float32"], default="float16")
    parser.add_argument("--part-mib", type=float, default=15.0, help="largest weights file, MiB")
    parser.add_argument("--judge", action="store_true",
                        help="run the Trainer's judge monitor with the judge the arrays carry; save the picked weights")
    parser.add_argument("--probe", action="store_true",
                        help="also write probe.npz: the saved networks' outputs on bench/jax_input.py probe_inputs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from bench.jax_input import batch_indices, load_arrays, make_batch, probe_inputs
    from bench.jax_steps import FullStep
    from pipeline.cli import _parse_overrides
    from pipeline.presets import get_preset

    overrides = _parse_overrides(args.set)
    cfg = get_preset(args.preset, overrides).model.replace(jit_compile=True)
    steps = args.steps or cfg.train_steps
    log_every = args.log_every or cfg.log_every
    images, ids, meta = load_arrays(args.arrays)
    if meta["resolution"] != cfg.resolution or images.shape[1] != cfg.resolution:
        raise SystemExit(f"error: {args.arrays} holds {images.shape[1]}x{images.shape[1]} images; preset "
                         f"{args.preset} trains at {cfg.resolution}x{cfg.resolution}")
    vocab = {a: meta["vocab_sizes"][a] for a in cfg.condition_attributes}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = jax.devices()[0]
    device_name = device.device_kind if device.platform != "cpu" else f"CPU ({platform.machine()}, {os.cpu_count()})"
    print(f"[jax-train] {args.preset} on {device_name}: {len(images)} records {cfg.resolution}x{cfg.resolution}, "
          f"batch {cfg.batch_size}, up to {steps} steps, mixed precision {cfg.mixed_precision}", flush=True)

    stepper = FullStep(cfg, vocab)
    for net in (stepper.g, stepper.e, stepper.d):
        if net.model.non_trainable_variables:  # the port passes them through unchanged: it would drop their updates
            raise SystemExit(f"error: {net.model.name} has non-trainable variables, which the port does not update")
    state = stepper.init()
    step_fn = jax.jit(stepper.step, donate_argnums=(0,))
    batch_fn = jax.jit(make_batch)
    data = jnp.asarray(images)
    data_ids = {a: jnp.asarray(ids[a]) for a in vocab}
    order = batch_indices(len(images), cfg.batch_size, cfg.seed)
    monitor = None
    if args.judge:
        from bench.jax_monitor import JaxJudge, JaxJudgeMonitor, load_judge_arrays

        carried = load_judge_arrays(args.arrays)
        if carried is None:
            raise SystemExit(f"error: --judge, but {args.arrays} carries no judge (export it with --judge)")
        monitor = JaxJudgeMonitor(cfg, vocab, stepper, JaxJudge(cfg, vocab, carried["weights"], carried["meta"]),
                                  images, ids, carried["heldout"])
        print(f"[jax-train] judge monitor: a check every {cfg.judge_every} steps on {len(monitor.z)} samples, "
              f"{monitor.summary()['heldout_per_check']} held-out records; ties broken by {monitor.picks.fid_key}",
              flush=True)
    root = jax.random.PRNGKey(cfg.seed)
    manifest = {"benchmark": "train_gan_jax", "command": portable_command("bench/train_gan_jax.py", argv),
                "preset": args.preset, "overrides": overrides, "config": cfg.to_dict(), "vocab_sizes": vocab,
                "vocabularies": meta.get("vocabularies"), "device": device_name,
                "arrays": {k: v for k, v in meta.items() if k != "vocabularies"},
                "backend": f"keras {keras.__version__} on jax {jax.__version__}"}
    history, step, last_save = [], 0, time.time()
    compile_started = time.time()
    train_started = compile_seconds = None

    def chosen():
        """What is saved: each side's pick (the last weights before its first check) and the last generator, or
        without a judge the last weights."""
        if monitor is None:
            return {"ema_generator": state["ema_g"], "ema_editor": state["ema_e"]}
        return {"ema_generator": monitor.best_weights.get("ema_g", state["ema_g"]),
                "ema_editor": monitor.best_weights.get("ema_e", state["ema_e"]), "last_ema_generator": state["ema_g"]}

    def write(step_now, train_seconds, stopped_by):
        judged = {"judge": monitor.summary()} if monitor else {}
        saved = save_weights(stepper, chosen(), out, args.weights_dtype, args.part_mib,
                             dict(manifest, steps=step_now, train_seconds=round(train_seconds, 1), **judged,
                                  compile_seconds=compile_seconds, stopped_by=stopped_by,
                                  images_per_second=round((step_now - 1) * cfg.batch_size / train_seconds, 1)
                                  if train_seconds > 0 else None))
        checks = {"judge_history": monitor.history} if monitor is not None else {}
        (out / "train_log.json").write_text(json.dumps({"history": history, **checks, **{
            k: v for k, v in saved.items() if k != "networks"}}, indent=2) + "\n")

    stopped_by = "steps"
    while step < steps:
        key_batch, key_step = jax.random.split(jax.random.fold_in(root, step))
        batch = batch_fn(key_batch, data, data_ids, jnp.asarray(next(order)))
        state, logs = step_fn(state, batch, key_step)
        step += 1
        if step == 1:
            jax.block_until_ready(logs)
            compile_seconds = round(time.time() - compile_started, 1)
            train_started = time.time()
            print(f"[jax-train] compiled and ran step 1 in {compile_seconds} s", flush=True)
        if step % log_every == 0 or step == steps:
            values = {k: float(v) for k, v in logs.items()}
            elapsed = time.time() - train_started
            rate = (step - 1) * cfg.batch_size / elapsed if elapsed > 0 else 0.0
            history.append({"step": step, "seconds": round(elapsed, 1), **{k: round(v, 4) for k, v in values.items()}})
            left = (steps - step) * cfg.batch_size / rate if rate else float("nan")
            if args.max_seconds:
                left = min(left, args.max_seconds - elapsed)
            print(f"[jax-train] step {step}/{steps} {rate:.0f} img/s, ~{max(left, 0):.0f} s left  "
                  + "  ".join(f"{k} {v:.3f}" for k, v in values.items()), flush=True)
            if not all(math.isfinite(v) for v in values.values()):
                stopped_by = "non-finite loss"
                print(f"[jax-train] error: non-finite loss at step {step}: {values}", flush=True)
                break
            if args.max_seconds and elapsed >= args.max_seconds:
                stopped_by = "time budget"  # the check after the loop scores these last weights
                break
            if time.time() - last_save >= args.save_every_seconds:
                write(step, elapsed, "running")
                last_save = time.time()
        if monitor is not None and step % cfg.judge_every == 0:
            print(f"[jax-train] {monitor.check(state, step)}", flush=True)
            if monitor.picks.should_stop(step):
                stopped_by = "early stop"
                print(f"[jax-train] early stop at step {step}: no gain for {monitor.picks.checks_without_gain} "
                      f"checks (best {monitor.picks.describe()})", flush=True)
                break
    jax.block_until_ready(state)
    elapsed = time.time() - train_started if train_started else 0.0
    if monitor is not None and stopped_by != "non-finite loss" and (
            not monitor.history or monitor.history[-1]["step"] != step):
        print(f"[jax-train] {monitor.check(state, step)}", flush=True)  # the last weights are a candidate too
    write(step, elapsed, stopped_by)
    if args.probe:  # what the saved (dtype-rounded) weights output, for the hand-over test
        g_in, e_in = probe_inputs(cfg.resolution, cfg.z_dim, vocab)
        rounded = {k: [jnp.asarray(np.asarray(v, args.weights_dtype), jnp.float32) for v in values]
                   for k, values in chosen().items()}
        generated, _ = stepper.g.model.stateless_call(rounded["ema_generator"], [], g_in, training=False)
        edited, _ = stepper.e.model.stateless_call(rounded["ema_editor"], [], e_in, training=False)
        np.savez(out / "probe.npz", generated=np.asarray(generated, np.float32),
                 **{f"edited_{k}": np.asarray(v, np.float32) for k, v in edited.items()})
    picked = f"; picked {monitor.picks.describe()}" if monitor is not None else ""
    print(f"[jax-train] {step} steps in {elapsed:.0f} s after a {compile_seconds} s compile; stopped by "
          f"{stopped_by}{picked}; wrote {out}", flush=True)
    return 1 if stopped_by == "non-finite loss" else 0


if __name__ == "__main__":
    sys.exit(main())
