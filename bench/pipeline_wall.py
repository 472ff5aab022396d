"""Pipeline wall time: per component (from ML Metadata) and the orchestration overhead around them.

    python bench/pipeline_wall.py                      # data/sample (2,000 images), preset cpu-quick
    python bench/pipeline_wall.py --preset tiny        # a quick check
    python bench/pipeline_wall.py --preset tiny --set model.train_steps=30 --output SCRATCH/wall.json

Runs the whole pipeline (`pipeline.local_runner.run_local`, LocalDagRunner, caching off) on a fresh work dir and
records:
- `total_run_s`: wall time of `run_local` (LocalDagRunner.run + pipeline construction), measured here;
- per component: execution wall time = MLMD `last_update_time_since_epoch - create_time_since_epoch` of that
  component's execution in this run (the driver/executor/publisher span TFX records), plus its state;
- `sum_components_s` and `overhead_s` = total − sum (orchestration, MLMD, launcher set-up, import of component
  executors done outside recorded spans). Components run one after another under LocalDagRunner, so the sum is
  comparable to the total;
- `imports_s`: importing TFX's LocalDagRunner before the timed run (not part of the total).
Writes JSON (default bench/results/pipeline_wall.json).
"""
import argparse
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
from models.onednn import cpu_vector_extensions, onednn_enabled, prefer_onednn  # noqa: E402

prefer_onednn()  # the CPU kernels `vitrine` runs (models/onednn.py), before TensorFlow is imported


def component_times(metadata_path: str) -> dict:
    """component id -> {seconds, state, started_s (relative to the run's first execution)} for the latest run."""
    from ml_metadata.proto import metadata_store_pb2

    from pipeline.runs import _component_id, _store

    store = _store(metadata_path)
    runs = sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    if not runs:
        raise RuntimeError(f"no pipeline run in {metadata_path}")
    context_type_names = {t.id: t.name for t in store.get_context_types()}
    executions = store.get_executions_by_context(runs[-1].id)
    first = min(e.create_time_since_epoch for e in executions)
    out = {}
    for execution in sorted(executions, key=lambda e: e.create_time_since_epoch):
        component = _component_id(store, execution, context_type_names)
        out[component] = {
            "seconds": round((execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000, 2),
            "started_s": round((execution.create_time_since_epoch - first) / 1000, 2),
            "state": metadata_store_pb2.Execution.State.Name(execution.last_known_state),
        }
    return {"run_id": runs[-1].name, "components": out}


def _overrides(items):
    from pipeline.cli import _parse_overrides

    return _parse_overrides(items)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default=str(REPO / "data" / "sample"))
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="preset override")
    parser.add_argument("--work-dir", help="default: a fresh temporary folder")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "pipeline_wall.json"))
    args = parser.parse_args(argv)

    from pipeline.presets import get_preset

    preset = get_preset(args.preset, _overrides(args.set))
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="pipeline_wall_")
    t0 = time.perf_counter()
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # noqa: F401 - timed separately

    from pipeline.local_runner import run_local
    imports_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    paths = run_local(args.catalog, work_dir, preset, curated_schema=False)
    total_s = time.perf_counter() - t0

    timed = component_times(paths["metadata_path"])
    comps = timed["components"]
    sum_s = sum(c["seconds"] for c in comps.values())
    with open(os.path.join(args.catalog, "styles.csv")) as f:
        rows = sum(1 for _ in f) - 1
    result = {
        "benchmark": "pipeline_wall",
        "preset": args.preset,
        "overrides": args.set or [],
        "catalog": portable(os.path.abspath(args.catalog)),
        "catalog_rows": rows,
        "run_id": timed["run_id"],
        "imports_s": round(imports_s, 2),
        "total_run_s": round(total_s, 2),
        "sum_components_s": round(sum_s, 2),
        "overhead_s": round(total_s - sum_s, 2),
        "overhead_fraction": round((total_s - sum_s) / total_s, 3) if total_s else None,
        "components": comps,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "onednn_kernels": onednn_enabled(), "cpu_vector_extensions": cpu_vector_extensions()},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "components"}, indent=2))
    for name, c in sorted(comps.items(), key=lambda kv: kv[1]["started_s"]):
        print(f"  {name:30s} {c['seconds']:8.2f} s  {c['state']}")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
