"""TF Serving's REST API (port 8501 by convention) on top of the gRPC servicer's model manager and batcher.

Endpoints (same paths and JSON as TF Serving)::

    POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict
         {"signature_name": "generate", "inputs": {"articleType": ["Tshirts"], "seed": [0], ...}}   columnar
         {"signature_name": "generate", "instances": [{"articleType": "Tshirts", "seed": 0, ...}]}  row format
         binary strings as {"b64": "..."} (e.g. `image_bytes` of `edit`)
      -> {"outputs": {name: value}} (columnar) or {"predictions": [{name: value}, ...]} (rows);
         string outputs (png) are {"b64": "..."}.
    GET  /v1/models/<name>[/versions/<v>]            -> {"model_version_status": [...]}
    GET  /v1/models/<name>[/versions/<v>]/metadata   -> {"model_spec": ..., "metadata": {"signature_def": ...}}

Errors: {"error": "..."} with 400 (INVALID_ARGUMENT), 404 (NOT_FOUND), 413 (body too large), 429, 500, 501, 504.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import numpy as np

log = logging.getLogger("serving.rest")

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                   r"(?::(?P<verb>predict|classify|regress)|/(?P<meta>metadata))?/?$")
_HTTP_CODE = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404,
              grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.DEADLINE_EXCEEDED: 504,
              grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.FAILED_PRECONDITION: 400}


def _decode_value(value: Any, is_string: bool) -> Any:
    """JSON value -> python value for numpy: {"b64": s} -> bytes, str -> utf-8 bytes for DT_STRING."""
    if isinstance(value, list):
        return [_decode_value(v, is_string) for v in value]
    if isinstance(value, dict):
        if set(value) == {"b64"} and isinstance(value["b64"], str):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except ValueError as e:
                raise ValueError(f"invalid base64: {e}") from None
        raise ValueError(f"unexpected object {sorted(value)} (only {{\"b64\": ...}} is allowed)")
    if is_string:
        if isinstance(value, str):
            return value.encode("utf-8")
        raise ValueError(f"expects strings, got {type(value).__name__} {value!r}")
    return value


def _encode_array(array: np.ndarray) -> Any:
    if array.dtype == object or array.dtype.kind in "SU":
        def enc(v):
            b = v if isinstance(v, bytes) else str(v).encode()
            try:
                text = b.decode("utf-8")
                if text.isprintable():
                    return text
            except UnicodeDecodeError:
                pass
            return {"b64": base64.b64encode(b).decode("ascii")}
        return np.vectorize(enc, otypes=[object])(array).tolist() if array.size else array.tolist()
    return array.tolist()


class RestServer:
    """A ThreadingHTTPServer in a daemon thread; `.port`, `.start()`, `.stop()`."""

    def __init__(self, servicer, host: str = "0.0.0.0", port: int = 8501, max_body_bytes: int = 64 << 20):
        self.servicer = servicer
        self.max_body_bytes = max_body_bytes
        handler = type("VitrineRestHandler", (_Handler,), {"rest": self})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "RestServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="rest", daemon=True)
        self._thread.start()
        log.info("REST API on port %d", self.port)
        return self

    def stop(self) -> None:
        if self._thread:
            self._httpd.shutdown()
            self._thread.join(10)
        self._httpd.server_close()

    # --- the API -----------------------------------------------------------------------------------------
    def _spec(self, request, m) -> None:
        request.model_spec.name = m["name"]
        if m["version"]:
            request.model_spec.version.value = int(m["version"])
        elif m["label"]:
            request.model_spec.version_label = m["label"]

    def predict(self, m, body: dict) -> dict:
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        from serving.errors import RequestError

        bad = grpc.StatusCode.INVALID_ARGUMENT
        if not isinstance(body, dict):
            raise RequestError(bad, "request body must be a JSON object")
        has_inputs, has_instances = "inputs" in body, "instances" in body
        if has_inputs == has_instances:
            raise RequestError(bad, "give exactly one of 'inputs' (columnar) or 'instances' (row format)")
        request = predict_pb2.PredictRequest()
        self._spec(request, m)
        signature = body.get("signature_name") or "serving_default"
        request.model_spec.signature_name = signature
        loaded = self.servicer._resolve(request.model_spec)
        specs = loaded.input_specs.get(signature)
        if specs is None:
            raise RequestError(bad, f"Serving signature name: {signature!r} not found in signature def; "
                                    f"available: {sorted(loaded.signatures)}")
        if has_inputs:
            columns = body["inputs"]
            if not isinstance(columns, dict):
                if len(specs) != 1:
                    raise RequestError(bad, f"'inputs' must be an object naming the inputs {sorted(specs)}")
                columns = {next(iter(specs)): columns}
        else:
            rows = body["instances"]
            if not isinstance(rows, list) or not rows:
                raise RequestError(bad, "'instances' must be a non-empty list")
            if all(isinstance(r, dict) and not (set(r) == {"b64"}) for r in rows):
                names = set().union(*rows)
                if any(set(r) != names for r in rows):
                    raise RequestError(bad, "every instance must name the same inputs")
                columns = {n: [r[n] for r in rows] for n in names}
            elif len(specs) == 1:
                columns = {next(iter(specs)): rows}
            else:
                raise RequestError(bad, f"instances must be objects naming the inputs {sorted(specs)}")
        for name, value in columns.items():
            spec = specs.get(name)
            if spec is None:  # let the servicer produce its usual unknown/missing message
                request.inputs[name].CopyFrom(tf.make_tensor_proto([0.0]))
                continue
            is_string = spec.dtype == tf.string
            try:
                array = np.array(_decode_value(value, is_string),
                                 dtype=object if is_string else spec.dtype.as_numpy_dtype)
                request.inputs[name].CopyFrom(tf.make_tensor_proto(array, dtype=spec.dtype))
            except (ValueError, TypeError, OverflowError) as e:
                raise RequestError(bad, f"input {name!r}: cannot convert to {spec.dtype.name}: {e}") from None
        response = self.servicer.predict_request(request, None)
        outputs = {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
        if has_inputs:
            return {"outputs": {k: _encode_array(v) for k, v in outputs.items()}}
        n = len(columns[next(iter(columns))]) if columns else 0
        encoded = {k: _encode_array(v) for k, v in outputs.items()}
        return {"predictions": [{k: encoded[k][i] for k in encoded} for i in range(n)]}

    def status(self, m) -> dict:
        from serving.errors import RequestError
        from tensorflow_serving.apis import get_model_status_pb2

        if m["name"] != self.servicer.manager.name:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {m['name']!r}")
        states = self.servicer.manager.states()
        if m["label"]:
            labels = self.servicer.manager.config.labels
            if m["label"] not in labels:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"no version label {m['label']!r}")
            wanted = [labels[m["label"]]]
        else:
            wanted = [int(m["version"])] if m["version"] else sorted(states)
        missing = [v for v in wanted if v not in states]
        if missing:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"model {m['name']!r} version {missing[0]} not found; "
                                                          f"known versions: {sorted(states) or 'none'}")
        name = get_model_status_pb2.ModelVersionStatus.State.Name
        return {"model_version_status": [
            {"version": str(v), "state": name(states[v].state),
             "status": {"error_code": grpc.StatusCode.OK.name if not states[v].error_code
                        else _code_name(states[v].error_code),
                        "error_message": states[v].error}} for v in wanted]}

    def metadata(self, m) -> dict:
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2

        request = predict_pb2.PredictRequest()
        self._spec(request, m)
        loaded = self.servicer._resolve(request.model_spec)
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        for name, sig in loaded.signature_defs.items():
            sig_map.signature_def[name].CopyFrom(sig)
        return {"model_spec": {"name": self.servicer.manager.name, "signature_name": "",
                               "version": str(loaded.version)},
                "metadata": {"signature_def": json_format.MessageToDict(sig_map, preserving_proto_field_name=True)}}


def _code_name(code: int) -> str:
    for c in grpc.StatusCode:
        if c.value[0] == code:
            return c.name
    return str(code)


class _Handler(BaseHTTPRequestHandler):
    rest: RestServer
    protocol_version = "HTTP/1.1"
    server_version = "VitrineREST/1"

    def log_message(self, fmt, *args):  # route through logging, quietly
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        from serving.errors import RequestError

        m = _PATH.match(self.path.split("?", 1)[0])
        try:
            if not m:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"Malformed request: {method} {self.path}")
            m = m.groupdict()
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                if length > self.rest.max_body_bytes:
                    self.close_connection = True
                    self._send(413, {"error": f"request body of {length} bytes exceeds the "
                                              f"{self.rest.max_body_bytes}-byte limit"})
                    return
                raw = self.rfile.read(length)
                if m["verb"] in ("classify", "regress"):
                    raise RequestError(grpc.StatusCode.UNIMPLEMENTED,
                                       f"{m['verb']} is not supported by Vitrine models; use :predict")
                if m["verb"] != "predict":
                    raise RequestError(grpc.StatusCode.NOT_FOUND, f"Malformed request: POST {self.path}")
                try:
                    body = json.loads(raw or b"null")
                except ValueError as e:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"JSON parse error: {e}") from None
                self._send(200, self.rest.predict(m, body))
            else:
                if m["verb"]:
                    raise RequestError(grpc.StatusCode.NOT_FOUND, f"Malformed request: GET {self.path}")
                self._send(200, self.rest.metadata(m) if m["meta"] else self.rest.status(m))
        except RequestError as e:
            self._send(_HTTP_CODE.get(e.code, 500), {"error": e.message})
        except Exception as e:  # noqa: BLE001
            log.exception("REST %s %s failed", method, self.path)
            self._send(500, {"error": f"{type(e).__name__}: {e}"})

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_GET(self):  # noqa: N802
        self._dispatch("GET")
