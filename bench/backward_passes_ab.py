"""A/B: G's and E's gradients from one backward pass (the step now) vs two (before session 22).

    python bench/backward_passes_ab.py --preset cpu-quick --rounds 2 --steps 30 --max-seconds 40

Counts each variant's work per image from its traced step (bench/step_flops.py) and times both in alternating
rounds (A B A B ...) on the same synthetic batches, so a machine's drift hits both alike. Writes JSON (default
bench/results/backward_passes_ab_<preset>.json).
"""
import argparse
import json
import os
import pathlib
import platform
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.portable import portable_command  # noqa: E402

VOCAB = {"articleType": 20, "baseColour": 30}  # as bench/train_throughput.py


def _model(cfg, separate: bool):
    import keras

    from models import networks
    from models.gan import VitrineGAN

    keras.utils.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    model = VitrineGAN(networks.build_generator(cfg, VOCAB), networks.build_editor(cfg, VOCAB),
                       networks.build_discriminator(cfg, VOCAB), cfg, VOCAB)
    model.separate_backward = separate
    model.compile()
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per variant, alternating")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--max-seconds", type=float, default=40.0)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from bench.step_flops import train_step_flops
    from bench.train_throughput import _dataset, _time_model
    from pipeline.presets import get_preset

    cfg = get_preset(args.preset).model
    variants = {"two_passes": True, "one_pass": False}
    result = {"benchmark": "backward_passes_ab", "command": portable_command("bench/backward_passes_ab.py", argv),
              "preset": args.preset, "resolution": cfg.resolution, "batch": cfg.batch_size, "cpus": os.cpu_count(),
              "platform": platform.platform(), "tensorflow": tf.__version__, "vocab_sizes": VOCAB,
              "mflop_per_image": {}, "rounds": []}
    for name, separate in variants.items():  # R1 is inside a tf.cond and not counted: equal in both variants
        flops = train_step_flops(_model(cfg, separate), cfg.batch_size, cfg.resolution, VOCAB)
        result["mflop_per_image"][name] = round(flops / cfg.batch_size / 1e6, 1)
    for round_ in range(args.rounds):
        for name, separate in variants.items():
            model = _model(cfg, separate)
            seconds, done, warm = _time_model(model, _dataset(tf, cfg.resolution, cfg.batch_size, VOCAB), 2,
                                              args.steps, args.max_seconds)
            row = {"round": round_, "variant": name, "images_per_s": round(cfg.batch_size * done / seconds, 2),
                   "steps": done, "warmup_s": round(warm, 1)}
            print(json.dumps(row), flush=True)
            result["rounds"].append(row)
    for name in variants:
        rates = [r["images_per_s"] for r in result["rounds"] if r["variant"] == name]
        result[f"{name}_images_per_s_mean"] = round(sum(rates) / len(rates), 2)
    result["speedup_one_pass"] = round(result["one_pass_images_per_s_mean"] / result["two_passes_images_per_s_mean"], 3)
    result["work_ratio_two_over_one"] = round(result["mflop_per_image"]["two_passes"]
                                              / result["mflop_per_image"]["one_pass"], 3)
    out = pathlib.Path(args.out or REPO / "bench" / "results" / f"backward_passes_ab_{args.preset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}: {json.dumps({k: v for k, v in result.items() if k != 'rounds'})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
