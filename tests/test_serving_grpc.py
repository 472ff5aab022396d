"""The serving gRPC API end to end: a real `python -m serving.server` subprocess on loopback, official stubs."""
import io

import grpc
import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow")
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, get_model_status_pb2,  # noqa: E402
                                     model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc)

from serving.client import VitrineClient, VitrineServingError  # noqa: E402
from fixtures.toy_model import DEFAULT_VOCAB, ServerProcess, write_toy_model  # noqa: E402

RESOLUTION = 16


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("serving") / "vitrine"
    write_toy_model(base, 1, resolution=RESOLUTION)
    proc = ServerProcess(base, "--max-message-mb", "1", "--max-request-batch", "16").start()
    yield proc
    assert proc.stop() == 0, proc.log()[-2000:]


@pytest.fixture(scope="module")
def client(server):
    with VitrineClient(server.target, timeout=30, max_message_bytes=8 << 20) as c:
        yield c


@pytest.fixture(scope="module")
def stubs(server):
    channel = grpc.insecure_channel(server.target, options=[("grpc.max_send_message_length", 8 << 20)])
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel), model_service_pb2_grpc.ModelServiceStub(channel)
    channel.close()


def generate_request(article=("Tshirts",), colour=("Red",), seeds=(0,), signature="generate"):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "vitrine"
    request.model_spec.signature_name = signature
    request.inputs["articleType"].CopyFrom(tf.make_tensor_proto(list(article)))
    request.inputs["baseColour"].CopyFrom(tf.make_tensor_proto(list(colour)))
    request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.array(seeds, np.int64)))
    request.inputs["truncation"].CopyFrom(tf.make_tensor_proto(np.ones(len(seeds), np.float32)))
    return request


def test_generate_round_trip(client):
    result = client.generate({"articleType": "Jeans", "baseColour": ["Red", "Blue", "Black"]}, count=3, seed=5)
    assert result.images.shape == (3, RESOLUTION, RESOLUTION, 3) and result.images.dtype == np.uint8
    assert result.version == 1
    assert list(result.ids["articleType"]) == [DEFAULT_VOCAB["articleType"].index("Jeans")] * 3
    assert list(result.ids["baseColour"]) == [DEFAULT_VOCAB["baseColour"].index(c) for c in ("Red", "Blue", "Black")]
    decoded = np.asarray(Image.open(io.BytesIO(result.png[0])))
    np.testing.assert_array_equal(decoded, result.images[0])
    # Per-image seeds: image i of a batch equals a single request with seed + i.
    alone = client.generate({"articleType": "Jeans", "baseColour": "Blue"}, count=1, seed=6)
    np.testing.assert_array_equal(alone.images[0], result.images[1])


def test_weighted_mix_uses_heaviest_value(client):
    result = client.generate({"articleType": "Shirts", "baseColour": "Red:0.3,White:0.7"}, count=1)
    assert result.ids["baseColour"][0] == DEFAULT_VOCAB["baseColour"].index("White")


def test_edit_round_trip(client):
    source = client.generate({"articleType": "Tshirts", "baseColour": "Red"}, count=2, seed=1)
    edited = client.edit(source.png, {"baseColour": "Blue"}, strength=[0.0, 1.0])  # articleType kept
    assert edited.images.shape == (2, RESOLUTION, RESOLUTION, 3) and edited.images.dtype == np.uint8
    assert edited.mask.shape == (2, RESOLUTION, RESOLUTION, 1)
    np.testing.assert_array_equal(edited.images[0], source.images[0])  # strength 0 keeps the image
    assert not np.array_equal(edited.images[1], source.images[1])


def test_background_request_to_a_model_without_edit_background_says_so(client):
    """The toy model predates background clean-up: asking for it names the missing signature and what the version
    has, and the plain edit still works."""
    source = client.generate({"articleType": "Tshirts", "baseColour": "Red"}, count=1, seed=1)
    with pytest.raises(ValueError, match="no 'edit_background' signature.*'edit', 'generate'"):
        client.edit(source.png, {"baseColour": "Blue"}, background="white")
    assert client.edit(source.png, {"baseColour": "Blue"}).images.shape[0] == 1


def test_serving_default_takes_examples(stubs):
    predict, _ = stubs
    example = tf.train.Example(features=tf.train.Features(feature={
        "articleType": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"Dresses"])),
        "baseColour": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"Black"])),
        "seed": tf.train.Feature(int64_list=tf.train.Int64List(value=[3])),
    }))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "vitrine"  # no signature_name: serving_default
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto([example.SerializeToString()]))
    request.output_filter.append("articleType_id")
    response = predict.Predict(request, timeout=30)
    assert set(response.outputs) == {"articleType_id"}
    assert tf.make_ndarray(response.outputs["articleType_id"]).tolist() == [3]
    assert response.model_spec.signature_name == "serving_default"


def test_metadata_lists_signatures(client, stubs):
    meta = client.metadata()
    assert meta["version"] == 1
    assert {"generate", "edit", "serving_default"} <= set(meta["signatures"])
    assert set(meta["signatures"]["generate"]["inputs"]) == {"articleType", "baseColour", "seed", "truncation"}
    assert {"images", "png", "articleType_id", "baseColour_id"} == set(meta["signatures"]["generate"]["outputs"])
    predict, _ = stubs
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "vitrine"
    response = predict.GetModelMetadata(request, timeout=30)
    assert response.metadata["signature_def"].Is(get_model_metadata_pb2.SignatureDefMap.DESCRIPTOR)


def test_status_reports_available(client, stubs):
    assert client.status() == [{"version": 1, "state": "AVAILABLE", "error_code": 0, "error_message": ""}]
    _, models = stubs
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as info:
        models.GetModelStatus(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_unknown_attribute_is_invalid_argument(client):
    with pytest.raises(VitrineServingError) as info:
        client.generate({"articleType": "Foo", "baseColour": "Red"}, count=2)
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Unknown articleType: 'Foo'" in err.details
    assert all(v in err.details for v in DEFAULT_VOCAB["articleType"])
    assert "Graph execution error" not in err.details and "\n" not in err.details
    with pytest.raises(VitrineServingError, match="Unknown baseColour: ''"):
        client.generate({"articleType": "Jeans", "baseColour": ""}, count=1)


def test_missing_version_and_model_are_not_found(client, server):
    with pytest.raises(VitrineServingError) as info:
        client.generate({"articleType": "Jeans", "baseColour": "Red"}, version=42)
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert "42" in info.value.details and "[1]" in info.value.details
    with VitrineClient(server.target, model_name="other") as other:
        with pytest.raises(VitrineServingError) as info:
            other.generate({"articleType": "Jeans", "baseColour": "Red"})
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_unimplemented_rpcs(stubs):
    predict, _ = stubs
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "vitrine"
    with pytest.raises(grpc.RpcError) as info:
        predict.Classify(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "Predict" in info.value.details()


def test_malformed_tensors_are_invalid_argument(stubs, client):
    predict, _ = stubs
    request = generate_request()
    request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.array([0], np.float32)))
    with pytest.raises(grpc.RpcError) as info:
        predict.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "'seed'" in info.value.details()

    request = generate_request()
    del request.inputs["truncation"]
    request.inputs["bogus"].CopyFrom(tf.make_tensor_proto([1.0]))
    with pytest.raises(grpc.RpcError) as info:
        predict.Predict(request, timeout=30)
    assert "'bogus'" in info.value.details() and "'truncation'" in info.value.details()

    request = generate_request(seeds=(0, 1))  # attributes have 1 row, seeds 2
    with pytest.raises(grpc.RpcError) as info:
        predict.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "batch size" in info.value.details()

    request = generate_request(signature="nope")
    with pytest.raises(grpc.RpcError) as info:
        predict.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "nope" in info.value.details()

    with pytest.raises(VitrineServingError) as info:
        client.edit([b"not an image"], {"articleType": "", "baseColour": "Red"})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "image_bytes" in info.value.details


def test_per_request_count_cap(client):
    with pytest.raises(VitrineServingError) as info:
        client.generate({"articleType": "Jeans", "baseColour": "Red"}, count=17)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "at most 16" in info.value.details


def test_oversized_request_is_resource_exhausted(client):
    big = b"\x89PNG\r\n\x1a\n" + bytes(2 << 20)  # 2 MiB > the server's 1 MiB limit
    with pytest.raises(VitrineServingError) as info:
        client.edit([big], {"articleType": "", "baseColour": "Red"})
    assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert client.generate({"articleType": "Jeans", "baseColour": "Red"}).images.shape[0] == 1


def test_grids(client, tmp_path):
    from serving.grid import write_edit_pair, write_generate_grid

    out = write_generate_grid(client, [{"articleType": "Tshirts", "baseColour": "Red"},
                                       {"articleType": "Jeans", "baseColour": "Blue"}], per_row=3, seed=0,
                              out_path=tmp_path / "grid.png")
    grid = Image.open(out)
    assert grid.width > 3 * 64 and grid.height >= 2 * 64
    source = client.generate({"articleType": "Tshirts", "baseColour": "Red"}, count=1)
    pair = write_edit_pair(client, source.png[0], {"articleType": "", "baseColour": "Blue"},
                           tmp_path / "pair.png", strengths=(0.5, 1.0))
    assert Image.open(pair).width > 3 * 64
