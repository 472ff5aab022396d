"""`vitrine schedule --kubeflow-host URL` creates a KFP recurring run with the spec `vitrine compile --kubeflow` wrote.

No Kubeflow cluster can run here (no Kubernetes, no network), hence a test double: a tiny `http.server` on
127.0.0.1 that answers the KFP v2beta1 REST endpoints kfp 2.5's `Client` uses and records every request:
`GET /apis/v2beta1/healthz` (Client init, multi-user check), `GET /apis/v2beta1/experiments?filter=...`
(create_experiment looks the name up first), `POST /apis/v2beta1/experiments`, `POST /apis/v2beta1/recurringruns`.
"""
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest
import yaml

from conftest import REPO


class _KfpDouble(BaseHTTPRequestHandler):
    requests = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body=None):
        url = urlparse(self.path)
        self.requests.append({"method": self.command, "path": url.path, "query": url.query, "body": body})
        return url.path

    def do_GET(self):
        path = self._record()
        if path == "/apis/v2beta1/healthz":
            self._answer(200, {"multi_user": False})
        elif path == "/apis/v2beta1/experiments":
            self._answer(200, {})  # no experiment of that name yet
        else:
            self._answer(404, {"error": f"not in the double: GET {path}"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self._record(body)
        if path == "/apis/v2beta1/experiments":
            self._answer(200, dict(body, experiment_id="exp-1"))
        elif path == "/apis/v2beta1/recurringruns":
            self._answer(200, dict(body, recurring_run_id="rr-1", status="ENABLED"))
        else:
            self._answer(404, {"error": f"not in the double: POST {path}"})


@pytest.fixture
def kfp_double():
    _KfpDouble.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KfpDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _KfpDouble.requests
    finally:
        server.shutdown()
        server.server_close()


def _vitrine(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_schedule_kubeflow_host_creates_a_recurring_run(tmp_path, kfp_double):
    host, requests = kfp_double
    package = tmp_path / "pipeline.yaml"
    _vitrine("compile", "--kubeflow", "--preset", "tiny", "-o", str(package), "--image", "example.org/vitrine:test")
    with open(package) as f:
        compiled = yaml.safe_load(f)

    out = _vitrine("schedule", "--kubeflow-host", host, "--cron", "0 3 * * *", "--package", str(package),
                   "--pipeline-root", "gs://bucket/vitrine/root", timeout=120)
    assert "rr-1" in out

    paths = [(r["method"], r["path"]) for r in requests]
    assert ("GET", "/apis/v2beta1/healthz") in paths  # kfp.Client(host=...) on init
    assert ("POST", "/apis/v2beta1/experiments") in paths
    created = [r for r in requests if (r["method"], r["path"]) == ("POST", "/apis/v2beta1/recurringruns")]
    assert len(created) == 1, paths
    body = created[0]["body"]
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"  # six fields, seconds first
    assert len(body["trigger"]["cron_schedule"]["cron"].split()) == 6
    assert int(body["max_concurrency"]) == 1
    assert body["no_catchup"] is True
    assert body["experiment_id"] == "exp-1"
    # The spec `vitrine compile --kubeflow` wrote, inline; kfp only rewrites each task's cachingOptions
    # (enable_caching=False: every scheduled run retrains).
    sent = body["pipeline_spec"]
    for spec in (sent, compiled):
        for task in spec["root"]["dag"]["tasks"].values():
            task.pop("cachingOptions", None)
    assert sent == compiled
    assert body["pipeline_spec"]["pipelineInfo"]["name"] == "vitrine"
    assert body["runtime_config"]["pipeline_root"] == "gs://bucket/vitrine/root"
