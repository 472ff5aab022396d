"""Weights trained by bench/train_gan_jax.py -> a Trainer checkpoint that bench/train_quality.py scores.

    python bench/import_jax_weights.py --weights RUN_DIR --checkpoints SCRATCH/jax_checkpoints
    python bench/train_quality.py --work-dir RUN --preset gpu --checkpoint SCRATCH/jax_checkpoints/step-00010000

Builds the EMA generator and EMA editor with the TensorFlow backend from the run's manifest (preset, overrides,
vocabulary sizes), sets their trainable variables in order from the npz parts (checking every shape), and saves
them as the Trainer's checkpoints do: `step-NNNNNNNN/{ema_generator,ema_editor}.weights.h5` and the DONE marker.
The export reads only those two (models/training.py `export`); the other networks keep fresh weights. A run with a
judge monitor saved each side's pick; `--generator last` imports its last EMA generator instead of the picked one
(the picked editor either way), to score the pick against the last weights.
"""
import argparse
import json
import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from models.onednn import prefer_onednn  # noqa: E402

prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py), before TensorFlow is imported


def read_network(run_dir: pathlib.Path, entry: dict):
    """-> the network's arrays in variable order, float32."""
    import numpy as np

    parts = [np.load(run_dir / name) for name in entry["files"]]
    return [parts[v["part"]][v["key"]].astype(np.float32) for v in entry["variables"]]


def build_networks(manifest: dict):
    """The EMA networks' architectures, as the Trainer builds them on this machine (TF backend)."""
    from models import networks
    from pipeline.presets import get_preset

    cfg = get_preset(manifest["preset"], manifest.get("overrides") or {}).model.replace(mixed_precision=False)
    vocab = manifest["vocab_sizes"]
    return {"ema_generator": networks.build_generator(cfg, vocab), "ema_editor": networks.build_editor(cfg, vocab)}


def import_weights(run_dir: str, checkpoints_dir: str, generator: str = "saved") -> pathlib.Path:
    """Writes the checkpoint folder; returns its path. `generator` "last": the run's last EMA generator."""
    run = pathlib.Path(run_dir)
    manifest = json.loads((run / "manifest.json").read_text())
    source = {"ema_generator": "last_ema_generator" if generator == "last" else "ema_generator",
              "ema_editor": "ema_editor"}
    if source["ema_generator"] not in manifest["networks"]:
        raise SystemExit(f"error: {run_dir} saved no last EMA generator (a run without --judge saves only its last "
                         "weights)")
    target = pathlib.Path(checkpoints_dir, f"step-{int(manifest['steps']):08d}")
    target.mkdir(parents=True, exist_ok=True)
    for name, model in build_networks(manifest).items():
        entry = manifest["networks"][source[name]]
        values = read_network(run, entry)
        variables = model.trainable_variables
        if len(values) != len(variables) or model.non_trainable_variables:
            raise SystemExit(f"error: {name} has {len(variables)} trainable (+{len(model.non_trainable_variables)} "
                             f"non-trainable) variables here, the run saved {len(values)}")
        for variable, value, saved in zip(variables, values, entry["variables"]):
            if tuple(variable.shape) != value.shape:
                raise SystemExit(f"error: {name} variable {variable.path} is {tuple(variable.shape)} here, "
                                 f"{value.shape} in the run ({saved['path']})")
            variable.assign(value)
        model.save_weights(str(target / f"{name}.weights.h5"))
    (target / "DONE").write_text(str(manifest["steps"]))
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="bench/train_gan_jax.py's --out folder")
    parser.add_argument("--checkpoints", required=True, help="writes step-NNNNNNNN here")
    parser.add_argument("--generator", choices=["saved", "last"], default="saved",
                        help="saved: the run's saved EMA generator (a judge's pick, or the last weights without one)")
    args = parser.parse_args(argv)
    target = import_weights(args.weights, args.checkpoints, args.generator)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
