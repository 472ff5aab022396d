"""Dynamic batching (unit and over gRPC), version policy and labels from a config file, deadlines, shutdown."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from serving.batching import Batcher, BatchingConfig, QueueFull, load_batching_config


# --- Batcher, in process (no TensorFlow) -----------------------------------------------------------------
def test_batcher_merges_concurrent_requests_and_splits_results():
    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}

    batcher = Batcher(run, BatchingConfig(max_batch_size=8, batch_timeout_micros=200_000, max_enqueued_batches=4))
    try:
        futures = [batcher.submit({"x": np.full(2, i)}, 2) for i in range(4)]
        results = [f.result(timeout=10) for f in futures]
    finally:
        batcher.close()
    for i, r in enumerate(results):
        np.testing.assert_array_equal(r["y"], np.full(2, 2 * i))
    assert calls == [8]


def test_batcher_queue_bound_and_bad_request_isolation():
    release = threading.Event()

    def run(inputs):
        release.wait(10)
        if (inputs["x"] < 0).any():
            raise ValueError("negative")
        return {"y": inputs["x"]}

    batcher = Batcher(run, BatchingConfig(max_batch_size=4, batch_timeout_micros=1000, max_enqueued_batches=1),
                      is_input_error=lambda e: isinstance(e, ValueError))
    try:
        first = batcher.submit({"x": np.array([1, 2])}, 2)
        bad = batcher.submit({"x": np.array([-1, 3])}, 2)
        with pytest.raises(QueueFull, match="queue is full"):
            batcher.submit({"x": np.array([5])}, 1)
        release.set()
        np.testing.assert_array_equal(first.result(10)["y"], [1, 2])
        with pytest.raises(ValueError):
            bad.result(10)
        np.testing.assert_array_equal(batcher.submit({"x": np.array([7])}, 1).result(10)["y"], [7])
    finally:
        release.set()
        batcher.close()


def test_batching_parameters_file(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text("max_batch_size { value: 16 }\nbatch_timeout_micros { value: 500 }\n"
                    "max_enqueued_batches { value: 7 }\nnum_batch_threads { value: 2 }\n")
    assert load_batching_config(str(path)) == BatchingConfig(16, 500, 7, 2)


def test_tf_serving_model_config_text_proto(tmp_path):
    pytest.importorskip("tensorflow_serving")
    from serving.models import VersionPolicy, load_model_config

    path = tmp_path / "models.config"
    path.write_text('model_config_list { config { name: "vitrine" base_path: "/models/vitrine" '
                    'model_platform: "tensorflow" model_version_policy { specific { versions: 3 versions: 4 } } '
                    'version_labels { key: "stable" value: 3 } } }')
    cfg = load_model_config(str(path))
    assert cfg.name == "vitrine" and cfg.base_path == "/models/vitrine"
    assert cfg.policy == VersionPolicy("specific", versions=(3, 4)) and cfg.labels == {"stable": 3}


# --- over gRPC ------------------------------------------------------------------------------------------
REQUEST = {"articleType": "Tshirts", "baseColour": "Red"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from fixtures.toy_model import ServerProcess, write_toy_model

    root = tmp_path_factory.mktemp("batching")
    base = root / "vitrine"
    write_toy_model(base, 1)
    write_toy_model(base, 2, tag=40)
    config = root / "model.json"
    config.write_text(json.dumps({"base_path": str(base), "version_policy": {"all": True},
                                  "version_labels": {"stable": 1, "canary": 2}}))
    batching = root / "batching.config"
    batching.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 150000 }\n"
                        "max_enqueued_batches { value: 8 }\nnum_batch_threads { value: 1 }\n")
    proc = ServerProcess(base, "--model-config-file", str(config), "--batching-parameters-file", str(batching),
                         "--log-level", "DEBUG").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(server):
    from serving.client import VitrineClient

    with VitrineClient(server.target, timeout=30) as c:
        yield c


def test_concurrent_requests_are_batched_and_match_solo_results(client, server):
    solo = {seed: client.generate(REQUEST, count=2, seed=seed, version=1).images for seed in (0, 10, 20, 30)}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: client.generate(REQUEST, count=2, seed=s, version=1), solo))
    for seed, result in zip(solo, results):
        np.testing.assert_array_equal(result.images, solo[seed])
    assert "running a batch of" in server.log()


def test_bad_request_does_not_fail_its_batch_mates(client):
    from serving.client import VitrineServingError

    def call(article):
        try:
            return client.generate({"articleType": article, "baseColour": "Red"}, count=1).version
        except VitrineServingError as e:
            return e.code

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(call, ["Jeans", "Foo", "Shirts", "Dresses"]))
    assert outcomes == [2, grpc.StatusCode.INVALID_ARGUMENT, 2, 2]


def test_version_policy_all_and_labels(client):
    assert client.generate(REQUEST).version == 2
    assert client.generate(REQUEST, version_label="stable").version == 1
    assert client.generate(REQUEST, version_label="canary").version == 2
    assert {s["version"]: s["state"] for s in client.status()} == {1: "AVAILABLE", 2: "AVAILABLE"}
    from serving.client import VitrineServingError

    with pytest.raises(VitrineServingError) as info:
        client.generate(REQUEST, version_label="nope")
    assert info.value.code == grpc.StatusCode.NOT_FOUND and "stable" in info.value.details


def test_deadline_is_honoured(server):
    from serving.client import VitrineClient, VitrineServingError

    with VitrineClient(server.target, timeout=0.05, retries=0) as hasty:
        with pytest.raises(VitrineServingError) as info:
            hasty.generate(REQUEST)  # waits 150 ms in the batching queue
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_graceful_shutdown_finishes_in_flight_requests(client, server):
    from serving.client import VitrineServingError

    with ThreadPoolExecutor(3) as pool:
        pending = [pool.submit(client.generate, REQUEST, 1, seed) for seed in range(3)]
        time.sleep(0.05)  # the requests now sit in the 150 ms batching window
        server.proc.terminate()
        versions = [f.result(30).version for f in pending]
    assert versions == [2, 2, 2]
    assert server.proc.wait(30) == 0
    with pytest.raises(VitrineServingError):
        client.retries = 0
        client.generate(REQUEST)
