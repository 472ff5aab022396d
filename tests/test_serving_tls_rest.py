"""TLS on the gRPC port and TF Serving's REST API: one real `python -m serving.server` subprocess with both."""
import base64
import datetime
import io
import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow")
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

from serving.client import VitrineClient, VitrineServingError  # noqa: E402
from fixtures.toy_model import DEFAULT_VOCAB, ServerProcess, write_toy_model  # noqa: E402

RESOLUTION = 16


def _self_signed(directory) -> tuple[str, str]:
    """A self-signed certificate for localhost / 127.0.0.1: (cert.pem, key.pem) paths."""
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    try:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if not shutil.which("openssl"):
            pytest.skip("neither the cryptography package nor openssl is available")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key_path, "-out", cert_path], check=True, capture_output=True, timeout=60)
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls_rest")
    cert, key = _self_signed(root)
    base = root / "vitrine"
    write_toy_model(base, 1, resolution=RESOLUTION)
    rest_port = _free_port()
    proc = ServerProcess(base, "--ssl-cert", cert, "--ssl-key", key, "--rest-port", str(rest_port),
                         "--max-message-mb", "1").start()
    proc.cert = open(cert, "rb").read()
    proc.rest = f"http://127.0.0.1:{rest_port}"
    assert f"tls=1 rest_port={rest_port}" in proc.log()
    yield proc
    assert proc.stop() == 0, proc.log()[-2000:]


def generate_request(article="Tshirts", colour="Red", seed=0):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "vitrine"
    request.model_spec.signature_name = "generate"
    request.inputs["articleType"].CopyFrom(tf.make_tensor_proto([article]))
    request.inputs["baseColour"].CopyFrom(tf.make_tensor_proto([colour]))
    request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.array([seed], np.int64)))
    request.inputs["truncation"].CopyFrom(tf.make_tensor_proto(np.ones(1, np.float32)))
    return request


def test_tls_predict_with_official_stubs(server):
    credentials = grpc.ssl_channel_credentials(root_certificates=server.cert)
    with grpc.secure_channel(f"localhost:{server.port}", credentials) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(generate_request(), timeout=30)
    images = tf.make_ndarray(response.outputs["images"])
    assert images.shape == (1, RESOLUTION, RESOLUTION, 3) and images.dtype == np.uint8
    with VitrineClient(server.target, root_certificates=server.cert, retries=0) as client:
        result = client.generate({"articleType": "Jeans", "baseColour": "Blue"}, count=2, seed=3)
        assert result.images.shape == (2, RESOLUTION, RESOLUTION, 3)
        assert list(result.ids["articleType"]) == [DEFAULT_VOCAB["articleType"].index("Jeans")] * 2
        with pytest.raises(VitrineServingError) as info:
            client.generate({"articleType": "Foo", "baseColour": "Blue"})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "Unknown articleType: 'Foo'" in info.value.details


def test_insecure_channel_to_tls_port_fails(server):
    with grpc.insecure_channel(server.target) as channel:
        with pytest.raises(grpc.RpcError) as info:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(generate_request(), timeout=5)
    assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _http(server, method, path, body=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.rest + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_rest_generate_columnar(server):
    article, colours = DEFAULT_VOCAB["articleType"][0], DEFAULT_VOCAB["baseColour"][:3]
    status, out = _http(server, "POST", "/v1/models/vitrine:predict", {
        "signature_name": "generate",
        "inputs": {"articleType": [article] * 3, "baseColour": colours, "seed": [0, 1, 2],
                   "truncation": [1.0, 1.0, 1.0]}})
    assert status == 200, out
    images = np.asarray(out["outputs"]["images"], np.uint8)
    assert images.shape == (3, RESOLUTION, RESOLUTION, 3)
    assert out["outputs"]["baseColour_id"] == [DEFAULT_VOCAB["baseColour"].index(c) for c in colours]
    png = base64.b64decode(out["outputs"]["png"][0]["b64"])
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), images[0])
    # Same image over gRPC (TLS) for the same seed.
    with VitrineClient(server.target, root_certificates=server.cert) as client:
        grpc_result = client.generate({"articleType": article, "baseColour": colours[0]}, seed=0)
    np.testing.assert_array_equal(grpc_result.images[0], images[0])


def test_rest_rows_and_b64_edit(server):
    status, out = _http(server, "POST", "/v1/models/vitrine/versions/1:predict", {
        "signature_name": "generate",
        "instances": [{"articleType": "Jeans", "baseColour": "Red", "seed": 4, "truncation": 1.0}]})
    assert status == 200, out
    (row,) = out["predictions"]
    assert np.asarray(row["images"]).shape == (RESOLUTION, RESOLUTION, 3)
    status, edited = _http(server, "POST", "/v1/models/vitrine:predict", {
        "signature_name": "edit",
        "inputs": {"image_bytes": [row["png"]], "articleType": [""], "baseColour": ["Blue"], "strength": [0.0]}})
    assert status == 200, edited
    np.testing.assert_array_equal(np.asarray(edited["outputs"]["images"][0]), np.asarray(row["images"]))


def test_rest_errors(server):
    status, out = _http(server, "POST", "/v1/models/vitrine:predict", {
        "signature_name": "generate",
        "inputs": {"articleType": ["Foo"], "baseColour": ["Red"], "seed": [0], "truncation": [1.0]}})
    assert status == 400 and "Unknown articleType: 'Foo'" in out["error"], out
    status, out = _http(server, "POST", "/v1/models/vitrine:predict", {
        "signature_name": "generate", "inputs": {"articleType": ["Jeans"], "bogus": [1]}})
    assert status == 400 and "'bogus'" in out["error"], out
    status, out = _http(server, "POST", "/v1/models/vitrine:predict", raw=b"{not json")
    assert status == 400 and "JSON" in out["error"]
    status, out = _http(server, "POST", "/v1/models/other:predict", {"inputs": {}})
    assert status == 404 and "error" in out
    status, out = _http(server, "GET", "/v1/models/vitrine/versions/7")
    assert status == 404
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(server.rest.rsplit(":", 1)[1]), timeout=30)
    conn.putrequest("POST", "/v1/models/vitrine:predict")
    conn.putheader("Content-Length", str(2 << 20))  # over the 1 MiB --max-message-mb; body never sent
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and "limit" in json.loads(response.read())["error"]
    conn.close()


def test_rest_status_and_metadata(server):
    status, out = _http(server, "GET", "/v1/models/vitrine")
    assert status == 200
    assert out == {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                             "status": {"error_code": "OK", "error_message": ""}}]}
    status, meta = _http(server, "GET", "/v1/models/vitrine/metadata")
    assert status == 200 and meta["model_spec"]["version"] == "1"
    sigs = meta["metadata"]["signature_def"]["signature_def"]
    assert {"generate", "edit", "serving_default"} <= set(sigs)
    assert set(sigs["generate"]["inputs"]) == {"articleType", "baseColour", "seed", "truncation"}
