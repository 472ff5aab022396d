"""Evaluator cost: wall time vs number of generated samples, and how wide the FID interval is at each size.

    python bench/eval_cost.py --work-dir work_dirs/local          # a run's work dir (pipeline_root + metadata)
    python bench/eval_cost.py                                       # runs a tiny pipeline first (~3 min on 2 cores)
    python bench/eval_cost.py --sizes 64 128 256 512 --resamples 20 --output bench/results/eval_cost.json
    python bench/eval_cost.py --work-dir RUN --model RUN_SCRATCH/model --preset cpu-quick --real-limit 7000 \
        --sizes 200 400 800 2000          # a bench/train_quality.py model, FID and its floor vs N

Uses the latest Trainer model, judge, Transform output and graph under the work dir's pipeline root. Reports:
- the GanEvaluator execution's own wall time in that run (from ML Metadata) and one end-to-end `run_evaluation`
  at the run's settings (judge load + real-image features + candidate + report);
- the shared setup (judge load + judging the real train/eval images), paid once per evaluation;
- per size N (num_edits = N/2, the presets' ratio): `evaluate_model` wall time (SavedModel load, generation, judging,
  edits, metrics), and a percentile bootstrap of FID (judge space) resampling the generated features (and, for
  reference, both generated and real features) with `--resamples` resamples, and the FID floor (real train vs
  real eval) measured at the same N, which the generator's FID has to be compared with (FID falls as N grows);
- with two or more sizes, both FIDs extrapolated to infinite N (`models.metrics.fid_infinity`) and their ratio.
A baseline model doubles the per-model part. Writes JSON (default bench/results/eval_cost.json).
"""
import argparse
import glob
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.portable import portable  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from models.onednn import prefer_onednn  # noqa: E402

prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py), before TensorFlow is imported

ATTRIBUTES = ["articleType", "baseColour"]


def _latest(pattern: str) -> str:
    found = glob.glob(pattern)
    if not found:
        raise FileNotFoundError(f"nothing at {pattern}: is this a pipeline work dir?")
    return max(found, key=lambda p: int(p.rstrip("/").split("/")[-1]) if p.rstrip("/").split("/")[-1].isdigit()
               else -1)


def find_transform(pipeline_root: str) -> dict:
    """The latest Transform output under a pipeline root: {"examples", "transform_graph"} (no judge needed yet)."""
    return {"examples": _latest(os.path.join(pipeline_root, "Transform", "transformed_examples", "*")),
            "transform_graph": _latest(os.path.join(pipeline_root, "Transform", "transform_graph", "*"))}


def find_artifacts(pipeline_root: str, need_model: bool = True) -> dict:
    """Latest Transform output and judge under a pipeline root, and (need_model) the latest Trainer model."""
    def model_dir(component):
        serving = glob.glob(os.path.join(pipeline_root, component, "model", "*", "Format-Serving"))
        if not serving:
            raise FileNotFoundError(f"no {component} model under {pipeline_root}")
        return max(serving, key=lambda p: int(p.split("/")[-2]))

    found = {**find_transform(pipeline_root), "judge": model_dir("JudgeTrainer")}
    if need_model:
        found["model"] = model_dir("Trainer")
    return found


def evaluator_execution_seconds(metadata_path: str):
    """Wall time of the latest GanEvaluator execution recorded in MLMD (None if unavailable)."""
    try:
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2

        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = metadata_path
        config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
        store = metadata_store.MetadataStore(config)
        executions = [e for t in store.get_execution_types() if "GanEvaluator" in t.name
                      for e in store.get_executions_by_type(t.name)]
        if not executions:
            return None
        e = max(executions, key=lambda e: e.create_time_since_epoch)
        return (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000.0
    except Exception as exc:  # noqa: BLE001 - informative only
        print(f"(no evaluator execution time from MLMD: {exc})")
        return None


def run_tiny_pipeline(work_dir: str) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    from catalogs import make_small_catalog
    from pipeline.local_runner import run_local
    from pipeline.presets import get_preset

    catalog = make_small_catalog(REPO / "data" / "sample", os.path.join(work_dir, "catalog"))
    return run_local(catalog, os.path.join(work_dir, "work"), get_preset("tiny"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", help="a pipeline run's work dir; default: run a tiny pipeline in a temp dir")
    parser.add_argument("--preset", default="tiny", help="preset whose evaluation settings the run used")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--model", help="score this exported model (e.g. RUN_SCRATCH/model from bench/train_quality.py) "
                                        "instead of the work dir's latest Trainer model")
    parser.add_argument("--real-limit", type=int, default=2000,
                        help="real images loaded per split (random subset beyond it); the floor at N draws from them")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "eval_cost.json"))
    args = parser.parse_args(argv)

    import numpy as np

    from pipeline.pipeline import default_paths
    from pipeline.presets import get_preset

    if args.work_dir:
        paths = default_paths(args.work_dir)
        source = os.path.abspath(args.work_dir)
    else:
        tmp = tempfile.mkdtemp(prefix="eval_cost_")
        t0 = time.perf_counter()
        paths = run_tiny_pipeline(tmp)
        source = f"fresh tiny pipeline run ({time.perf_counter() - t0:.0f} s) in {tmp}"
    art = find_artifacts(paths["pipeline_root"], need_model=not args.model)
    if args.model:
        art["model"] = os.path.abspath(args.model)
    preset = get_preset(args.preset)
    resolution = preset.model.resolution

    import tensorflow as tf

    from components.gan_evaluation import (Judge, evaluate_model, prepare_real, to_float, vocabularies,
                                           with_floor_at)
    from components.gan_evaluator import run_evaluation
    from models import metrics as M
    from models.judge import JUDGE_SUMMARY

    result = {
        "source": portable(source),
        "artifacts": {k: portable(v) for k, v in art.items()},
        "preset": preset.name,
        "host": {"platform": platform.platform(), "python": platform.python_version(), "tensorflow": tf.__version__,
                 "cpus": os.cpu_count(), "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]},
        "evaluator_execution_s_in_run": evaluator_execution_seconds(paths["metadata_path"]),
    }

    config = dict(preset.evaluator_config(), condition_attributes=ATTRIBUTES, resolution=resolution)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        full = run_evaluation(art["model"], art["judge"], art["examples"], art["transform_graph"], out, config)
        result["run_evaluation_s"] = {"num_samples": preset.eval_num_samples, "num_edits": preset.eval_num_edits,
                                      "seconds": round(time.perf_counter() - t0, 3), "blessed": full["blessed"],
                                      "fid_ratio": full["metrics"]["fid_ratio"]["value"]}
    print("end-to-end run_evaluation:", result["run_evaluation_s"])

    t0 = time.perf_counter()
    with tf.io.gfile.GFile(os.path.join(art["judge"], JUDGE_SUMMARY)) as f:
        judge_summary = json.load(f)
    judge = Judge(art["judge"])
    vocab = vocabularies(art["transform_graph"], ATTRIBUTES)
    real = prepare_real(judge, art["examples"], resolution, ATTRIBUTES, judge_summary, limit=args.real_limit)
    real_features = real["eval"]["features"]
    result["setup_s"] = round(time.perf_counter() - t0, 3)
    result["real_eval_images"] = int(len(real_features))
    result["judge_feature_dim"] = int(real_features.shape[1])
    result["fid_floor_all_train"] = {"value": float(real["fid_floor"]),
                                     "train_images": int(real["fid_floor_sample_size"])}
    print(f"setup (judge + real features): {result['setup_s']} s; {len(real_features)} real eval images, "
          f"feature dim {real_features.shape[1]}, fid floor (all {real['fid_floor_sample_size']} loaded train "
          f"images) {real['fid_floor']:.4f}")

    rng = np.random.default_rng(0)
    rows = []
    for n in args.sizes:
        # the floor at the same N as the generated set, as the evaluator measures it (FID falls as N grows)
        real_n = with_floor_at(real, n)
        floor, floor_std = real_n["fid_floor"], real_n["fid_floor_std"]
        t0 = time.perf_counter()
        scored = evaluate_model(art["model"], judge, real_n, vocab, ATTRIBUTES, n, n // 2)
        seconds = time.perf_counter() - t0
        features = judge(to_float(scored["extras"]["generated"]))["features"]
        fid = scored["metrics"]["fid_judge"]["value"]
        t1 = time.perf_counter()
        gen_only = np.array([M.fid(features[rng.integers(0, n, n)], real_features) for _ in range(args.resamples)])
        both = np.array([M.fid(features[rng.integers(0, n, n)],
                               real_features[rng.integers(0, len(real_features), len(real_features))])
                         for _ in range(args.resamples)])
        boot_s = time.perf_counter() - t1
        low, high = np.percentile(gen_only, [2.5, 97.5])
        low_b, high_b = np.percentile(both, [2.5, 97.5])
        row = {
            "num_samples": n, "num_edits": n // 2, "num_edits_effective": min(n // 2, len(real_features)), "evaluate_model_s": round(seconds, 3),
            "per_sample_ms": round(1000 * seconds / n, 2),
            "fid_judge": float(fid), "fid_floor_same_n": float(floor), "fid_floor_same_n_std": float(floor_std),
            "fid_ratio": float(scored["metrics"]["fid_ratio"]["value"]),
            "fid_ci95_generated_resampled": [float(low), float(high)],
            "fid_ci95_width": float(high - low), "fid_ci95_rel_width": float((high - low) / max(fid, 1e-9)),
            "fid_ci95_both_resampled": [float(low_b), float(high_b)], "fid_ci95_both_width": float(high_b - low_b),
            "bootstrap_s": round(boot_s, 3),
            "articleType_control_accuracy": float(scored["metrics"]["articleType_control_accuracy"]["value"]),
            "articleType_control_accuracy_ci": [float(v) for v in scored["metrics"]["articleType_control_accuracy"]["ci"]],
        }
        rows.append(row)
        print(json.dumps(row))
    result["by_size"] = rows
    if len({r["num_samples"] for r in rows}) >= 2:
        # FID(N) = FID_inf + k/N for both the generator and the floor: the ratio without any one N's bias
        sizes = [r["num_samples"] for r in rows]
        generated, _ = M.fid_infinity(sizes, [r["fid_judge"] for r in rows])
        floor_inf, _ = M.fid_infinity(sizes, [r["fid_floor_same_n"] for r in rows])
        result["fid_infinity"] = {"generated": generated, "floor": floor_inf,
                                  "ratio": generated / max(floor_inf, 1e-9), "sizes": sizes}
        print("FID extrapolated to infinite N:", json.dumps(result["fid_infinity"]))
    result["resamples"] = args.resamples
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print("wrote", args.output)


if __name__ == "__main__":
    main()
