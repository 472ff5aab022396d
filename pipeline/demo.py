"""The README's main job: pipeline on the sample catalog, then serve, generate and edit over gRPC."""
import csv
import logging
import os
import socket
import subprocess
import sys
import time

log = logging.getLogger("vitrine.demo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_base_path: str, port: int, log_path: str) -> subprocess.Popen:
    log_file = open(log_path, "w")
    return subprocess.Popen(
        [sys.executable, "-m", "serving.server", "--model-base-path", model_base_path, "--port", str(port)],
        stdout=log_file, stderr=subprocess.STDOUT,
    )


def wait_until_serving(client, server: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.time() + timeout_s
    last_error = None
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with code {server.returncode} before serving")
        try:
            client.status()
            return
        except Exception as error:  # not up yet
            last_error = error
            time.sleep(1.0)
    raise TimeoutError(f"server not serving after {timeout_s:.0f}s: {last_error}")


def pick_rows(catalog_dir: str, rows: int = 4):
    """Grid rows for the demo: the catalog's most common categories, each with its most common colour."""
    import collections

    with open(os.path.join(catalog_dir, "styles.csv"), newline="") as f:
        table = list(csv.DictReader(f))
    by_type = collections.Counter(r["articleType"] for r in table)
    chosen = []
    for category, _ in by_type.most_common():
        colours = collections.Counter(r["baseColour"] for r in table if r["articleType"] == category)
        chosen.append({"articleType": category, "baseColour": colours.most_common(1)[0][0]})
        if len(chosen) == rows:
            break
    source = next(r for r in table if r["articleType"] == chosen[0]["articleType"])
    return chosen, os.path.join(catalog_dir, "images", f"{source['id']}.jpg"), source


def run_demo(args) -> int:
    from pipeline.cli import preset_from_args, print_run_summary
    from pipeline.local_runner import run_local
    from pipeline.runs import latest_run

    started = time.time()
    output = os.path.abspath(args.output)
    os.makedirs(output, exist_ok=True)
    preset = preset_from_args(args)
    paths = run_local(args.catalog, os.path.join(output, "work"), preset)
    run = latest_run(paths["metadata_path"])
    print_run_summary(run)
    if not run.pushed_version:
        print("\nThe model was not blessed, so nothing was pushed; see the evaluation report above.")
        return 1

    from serving.client import VitrineClient
    from serving.grid import write_edit_pair, write_generate_grid

    port = free_port()
    server_log = os.path.join(output, "server.log")
    server = start_server(paths["serving_model_dir"], port, server_log)
    try:
        client = VitrineClient(f"127.0.0.1:{port}")
        wait_until_serving(client, server)
        rows, source_path, source = pick_rows(args.catalog)
        grid = write_generate_grid(client, rows, 8, 0, os.path.join(output, "generated.png"))
        with open(source_path, "rb") as f:
            source_bytes = f.read()
        target_colour = "Red" if source["baseColour"] != "Red" else "Blue"
        edited = write_edit_pair(client, source_bytes, {"baseColour": target_colour},
                                 os.path.join(output, "edited.png"), strengths=(0.5, 1.0))
        from models.background import put_on_random_background

        cluttered = put_on_random_background(source_bytes, seed=(0, 1))
        cleaned = write_edit_pair(client, cluttered, {}, os.path.join(output, "background_cleaned.png"),
                                  strengths=(1.0,), background="white")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\nDemo finished in {time.time() - started:.0f}s")
    print(f"  pushed model:      {os.path.join(paths['serving_model_dir'], run.pushed_version)}")
    print(f"  generated grid:    {grid}   (rows: {', '.join(r['articleType'] + '/' + r['baseColour'] for r in rows)})")
    print(f"  edited image:      {edited}   ({source['articleType']} {source['baseColour']} -> {target_colour})")
    print(f"  background clean-up: {cleaned}   (the same photo on a random background -> white)")
    print(f"  evaluation report: {run.report}")
    print(f"  server log:        {server_log}")
    return 0
