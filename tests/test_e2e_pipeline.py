"""End to end on the `tiny` preset: every TFX stage runs for real on real product photos, MLMD records every
component's artifacts, the Pusher writes TF Serving's layout, and the gRPC server answers Predict for both
signatures through the official tensorflow_serving stubs."""
import os
import subprocess
import sys
import time
import warnings

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_service_pb2_grpc

from pipeline.presets import get_preset
from conftest import TINY_PER_TYPE

pytestmark = pytest.mark.slow

def test_every_component_ran_and_left_artifacts(tiny_run):
    _, run, _ = tiny_run
    expected = {"CatalogExampleGen": "Examples", "StatisticsGen": "ExampleStatistics", "SchemaGen": "Schema",
                "ExampleValidator": "ExampleAnomalies", "AnomalyGate": "Schema", "Transform": "TransformGraph",
                "JudgeTrainer": "Model", "Trainer": "Model", "GanEvaluator": "ModelBlessing",
                "Pusher": "PushedModel"}
    for component, artifact_type in expected.items():
        assert run.state_by_component.get(component) == "COMPLETE", run.state_by_component
        assert artifact_type in run.artifacts_by_component[component], (component, run.artifacts_by_component)
    assert run.kept == 4 * TINY_PER_TYPE and run.quarantined == 1
    assert run.metrics["fid_judge"] > 0


def test_pushed_layout_is_tf_serving(tiny_run):
    paths, run, _ = tiny_run
    assert run.blessed and run.pushed_version
    versions = [v for v in os.listdir(paths["serving_model_dir"]) if v.isdigit()]
    assert versions == [run.pushed_version]
    version_dir = os.path.join(paths["serving_model_dir"], versions[0])
    for name in ("saved_model.pb", "variables", "assets"):
        assert os.path.exists(os.path.join(version_dir, name)), name
    assert os.path.exists(run.report)


def test_trainer_was_scored_by_the_judge_while_training(tiny_run):
    """The GanTrainer hands JudgeTrainer's model to run_fn: the pushed model records the judge's checks."""
    import json

    from models.training import TRAINING_SUMMARY

    paths, run, _ = tiny_run
    with open(os.path.join(paths["serving_model_dir"], run.pushed_version, TRAINING_SUMMARY)) as f:
        summary = json.load(f)
    cfg = get_preset("tiny").model
    steps = [check["step"] for check in summary["judge_monitor"]["history"]]
    assert steps == list(range(cfg.judge_every, cfg.train_steps + 1, cfg.judge_every))
    assert summary["exported_checksums"] == summary["judge_monitor"]["best_checksums"]


@pytest.fixture(scope="module")
def server(tiny_run):
    from pipeline.demo import free_port

    paths, _, _ = tiny_run
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "serving.server", "--model-base-path",
                                paths["serving_model_dir"], "--port", str(port)])
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=120)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        stub.target = f"127.0.0.1:{port}"  # for tests that go through VitrineClient
        deadline = time.time() + 120
        while True:  # ready = the model answers, not only the port
            try:
                _predict(stub, "generate", articleType=["Tshirts"], baseColour=["Black"], seed=np.array([0]),
                         truncation=np.array([1.0], np.float32))
                break
            except grpc.RpcError:
                if time.time() > deadline or process.poll() is not None:
                    raise
                time.sleep(1)
        yield stub
    finally:
        channel.close()
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # Clean-up, not the test of graceful shutdown (tests/test_serving_batching.py is): on a loaded 2-core
            # machine the server once took over 30 s to exit after SIGTERM (session 53's CI, every test ~30 %
            # slower than session 52's), which failed this fixture's teardown. Kill it, and say so.
            process.kill()
            process.wait(timeout=30)
            warnings.warn("the e2e gRPC server did not exit within 60 s of SIGTERM and was killed")


def _predict(stub, signature, **inputs):
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name="vitrine", signature_name=signature))
    for key, value in inputs.items():
        if isinstance(value, list):
            value = np.array([v.encode() if isinstance(v, str) else v for v in value], dtype=object)
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    response = stub.Predict(request, timeout=60)
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def _vocab(tiny_run, attribute):
    paths, run, _ = tiny_run
    version_dir = os.path.join(paths["serving_model_dir"], run.pushed_version)
    with open(os.path.join(version_dir, "assets", attribute)) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def test_generate_round_trip_through_official_stubs(server, tiny_run):
    requested = ["Watches", "Tshirts", "Handbags"]
    colours = ["Black", "White", "Black"]
    out = _predict(server, "generate", articleType=requested, baseColour=colours, seed=np.array([1, 2, 3]),
                   truncation=np.ones(3, np.float32))
    resolution = get_preset("tiny").model.resolution
    assert out["images"].shape == (3, resolution, resolution, 3) and out["images"].dtype == np.uint8
    assert len(out["png"]) == 3 and all(p.startswith(b"\x89PNG") for p in out["png"])
    vocab = _vocab(tiny_run, "articleType")
    assert [vocab[i] for i in out["articleType_id"]] == requested
    assert [_vocab(tiny_run, "baseColour")[i] for i in out["baseColour_id"]] == colours
    # the attributes reach the generator: different categories, same seed -> different images
    same_seed = _predict(server, "generate", articleType=["Watches", "Tshirts"], baseColour=["Black", "Black"],
                         seed=np.array([5, 5]), truncation=np.ones(2, np.float32))
    assert np.abs(same_seed["images"][0].astype(int) - same_seed["images"][1].astype(int)).mean() > 1.0


def test_edit_round_trip_through_official_stubs(server, sample_catalog):
    image = open(os.path.join(sample_catalog, "images", sorted(os.listdir(sample_catalog / "images"))[0]), "rb").read()
    out = _predict(server, "edit", image_bytes=[image, image], articleType=["", "Watches"], baseColour=["White", ""],
                   strength=np.array([1.0, 0.0], np.float32))
    resolution = get_preset("tiny").model.resolution
    assert out["images"].shape == (2, resolution, resolution, 3) and out["images"].dtype == np.uint8
    assert out["mask"].shape == (2, resolution, resolution, 1)


def test_background_clean_up_through_official_stubs_and_the_client(server, sample_catalog):
    """The pushed model's `edit_background` over gRPC: "keep" answers as `edit` does, a bad value is
    INVALID_ARGUMENT naming the valid ones, and VitrineClient.edit(background=...) routes to it."""
    from serving.client import VitrineClient

    image = open(os.path.join(sample_catalog, "images", sorted(os.listdir(sample_catalog / "images"))[1]), "rb").read()
    out = _predict(server, "edit_background", image_bytes=[image, image], articleType=["", ""],
                   baseColour=["", ""], strength=np.ones(2, np.float32), background=["white", "keep"])
    assert out["images"].shape == (2,) + out["images"].shape[1:] and out["images"].dtype == np.uint8
    # "keep" through edit_background is the plain edit. (Whether "white" differs is pinned on a fresh export in
    # tests/test_training.py: this 90-step tiny editor can be a near-identity whose two answers round alike.)
    plain = _predict(server, "edit", image_bytes=[image], articleType=[""], baseColour=[""],
                     strength=np.ones(1, np.float32))
    np.testing.assert_array_equal(out["images"][1], plain["images"][0])
    with pytest.raises(grpc.RpcError) as error:
        _predict(server, "edit_background", image_bytes=[image], articleType=[""], baseColour=[""],
                 strength=np.ones(1, np.float32), background=["transparent"])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "transparent" in error.value.details() and "keep, white" in error.value.details()
    client = VitrineClient(server.target)
    cleaned = client.edit(image, {}, background="white")
    # the same request alone: equal up to float rounding between batch sizes (a pixel may move by one level)
    assert np.abs(cleaned.images[0].astype(int) - out["images"][0].astype(int)).max() <= 2


def test_unknown_attribute_is_invalid_argument_listing_valid_values(server):
    with pytest.raises(grpc.RpcError) as error:
        _predict(server, "generate", articleType=["Spaceships"], baseColour=["Black"], seed=np.array([0]),
                 truncation=np.ones(1, np.float32))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "articleType" in error.value.details() and "Spaceships" in error.value.details()
    assert "Tshirts" in error.value.details()  # lists the valid values


def test_edit_success_is_broken_down_by_attribute(tiny_run):
    _, run, _ = tiny_run
    parts = [run.metrics[f"edit_success_{a}"] for a in get_preset("tiny").model.condition_attributes]
    # the overall rate is a mix of the per-attribute rates
    assert min(parts) - 1e-9 <= run.metrics["edit_success"] <= max(parts) + 1e-9
    # the uniform-target view is reported next to it, ungated (the tiny catalog's types are balanced, its colours not)
    assert 0.0 <= run.metrics["edit_success_uniform_targets"] <= 1.0
