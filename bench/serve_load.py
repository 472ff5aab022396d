"""Load test of the `generate` signature over gRPC, against the in-process SavedModel call as the limit.

    python bench/serve_load.py [--model-base-path serving_model/vitrine] [--duration 3] [--modes unbatched,batched]

Starts `python -m serving.server` on a free port (the toy model from tests/fixtures when no base path is
given), drives `generate` at each concurrency x batch size for `--duration` seconds, and writes throughput
(images/s, requests/s) and p50/p95/p99 latency to bench/results/serve_load.json. The `in_process` entry calls
the newest version's signature directly with the same inputs: the ceiling the server can approach.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests")]


def percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    a = np.asarray(latencies) * 1000
    return {f"p{q}_ms": round(float(np.percentile(a, q)), 3) for q in (50, 95, 99)}


def drive(target: str, model_name: str, attributes: dict, concurrency: int, batch: int, duration: float) -> dict:
    from serving.client import VitrineClient, VitrineServingError

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker(index: int) -> None:
        with VitrineClient(target, model_name=model_name, timeout=60) as client:
            seed = index * 1_000_000
            while time.monotonic() < stop_at:
                start = time.perf_counter()
                try:
                    client.generate(attributes, count=batch, seed=seed)
                except VitrineServingError as e:
                    with lock:
                        errors.append(f"{e.code.name}: {e.details[:200]}")
                    continue
                elapsed = time.perf_counter() - start
                seed += batch
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 120)
    wall = time.perf_counter() - began
    return {"concurrency": concurrency, "batch_size": batch, "requests": len(latencies), "errors": len(errors),
            "first_errors": errors[:3], "requests_per_s": round(len(latencies) / wall, 2),
            "images_per_s": round(len(latencies) * batch / wall, 2), **percentiles(latencies)}


def in_process(base_path: str, attributes: dict, batch: int, duration: float) -> dict:
    import tensorflow as tf

    versions = sorted(int(v) for v in os.listdir(base_path) if v.isdigit())
    fn = tf.saved_model.load(os.path.join(base_path, str(versions[-1]))).signatures["generate"]
    inputs = {k: tf.constant([v] * batch) for k, v in attributes.items()}
    inputs["truncation"] = tf.ones([batch], tf.float32)
    latencies = []
    stop_at = time.monotonic() + duration
    seed = 0
    while time.monotonic() < stop_at:
        start = time.perf_counter()
        fn(seed=tf.range(seed, seed + batch, dtype=tf.int64), **inputs)
        latencies.append(time.perf_counter() - start)
        seed += batch
    total = sum(latencies)
    return {"batch_size": batch, "calls": len(latencies), "images_per_s": round(len(latencies) * batch / total, 2),
            **percentiles(latencies)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base-path", help="default: a toy model written to a temp dir")
    parser.add_argument("--model-name")
    parser.add_argument("--attributes", default='{"articleType": "Tshirts", "baseColour": "Red"}')
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--modes", default="unbatched,batched",
                        help="server modes to measure: unbatched, batched (--enable-batching, default parameters)")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "serve_load.json"))
    args = parser.parse_args(argv)
    attributes = json.loads(args.attributes)

    from fixtures.toy_model import ServerProcess, write_toy_model

    tmp = tempfile.mkdtemp(prefix="serve_load-")
    base = args.model_base_path
    if not base:
        base = os.path.join(tmp, "vitrine")
        write_toy_model(base, 1)
    model_name = args.model_name or os.path.basename(os.path.normpath(base))
    cells = []
    for mode in args.modes.split(","):
        extra = ["--model-name", model_name, "--max-workers", "48"]
        if mode == "batched":
            extra.append("--enable-batching")
        elif mode != "unbatched":
            parser.error(f"unknown mode {mode!r}; use unbatched and/or batched")
        server = ServerProcess(base, *extra, log_path=os.path.join(tmp, f"server-{mode}.log")).start()
        try:
            from serving.client import VitrineClient

            with VitrineClient(server.target, model_name=model_name) as warm:  # first call traces the function
                warm.generate(attributes, count=1)
            for batch in (int(b) for b in args.batch_sizes.split(",")):
                for concurrency in (int(c) for c in args.concurrency.split(",")):
                    cell = {"mode": mode,
                            **drive(server.target, model_name, attributes, concurrency, batch, args.duration)}
                    print(json.dumps(cell), flush=True)
                    cells.append(cell)
        finally:
            server.stop()
    limits = [in_process(base, attributes, int(b), args.duration) for b in args.batch_sizes.split(",")]
    result = {"model_base_path": None if not args.model_base_path else base, "toy_model": not args.model_base_path,
              "attributes": attributes, "duration_s_per_cell": args.duration,
              "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()},
              "grpc": cells, "in_process": limits}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
