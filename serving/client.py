"""A client for Vitrine models over TF Serving's gRPC API, using only the official stubs.

Works unchanged against the stock `tensorflow/serving` image and against `serving.server`::

    from serving.client import VitrineClient
    with VitrineClient("localhost:8500") as client:
        result = client.generate({"articleType": "Tshirts", "baseColour": "Red"}, count=4, seed=0)
        result.images      # uint8 [4, R, R, 3]
        result.png         # list of PNG bytes
        result.ids         # {"articleType": int64 [4], "baseColour": int64 [4]}
"""
from __future__ import annotations

import dataclasses
import time
from typing import Mapping, Sequence

import grpc
import numpy as np
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

DEFAULT_MAX_MESSAGE_BYTES = 64 << 20

# tensorflow DataType enum values, so building requests does not need TensorFlow imported.
_DT_FLOAT, _DT_INT64, _DT_STRING = 1, 9, 7


class VitrineServingError(RuntimeError):
    """A failed RPC: `.code` is the grpc.StatusCode, `.details` the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str, rpc: str = ""):
        super().__init__(f"{rpc + ': ' if rpc else ''}{code.name}: {details}")
        self.code = code
        self.details = details


@dataclasses.dataclass
class GenerateResult:
    images: np.ndarray                     # uint8 [N, R, R, 3]
    png: list[bytes]
    ids: dict[str, np.ndarray]             # attribute -> int64 [N] vocabulary index used
    version: int


@dataclasses.dataclass
class EditResult:
    images: np.ndarray                     # uint8 [N, R, R, 3]
    png: list[bytes]
    mask: np.ndarray | None                # float32 [N, R, R, 1]
    version: int


def _string_tensor(values: Sequence[bytes | str]):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    t = tensor_pb2.TensorProto(dtype=_DT_STRING)
    t.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(dim=[{"size": len(values)}]))
    t.string_val.extend(v.encode() if isinstance(v, str) else bytes(v) for v in values)
    return t


def _numeric_tensor(values: Sequence, dtype: int):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    t = tensor_pb2.TensorProto(dtype=dtype)
    t.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(dim=[{"size": len(values)}]))
    if dtype == _DT_INT64:
        t.int64_val.extend(int(v) for v in values)
    else:
        t.float_val.extend(float(v) for v in values)
    return t


def _to_numpy(proto) -> np.ndarray:
    import tensorflow as tf

    return tf.make_ndarray(proto)


def _attribute_values(value: str | Sequence[str], count: int, name: str) -> list[str]:
    if isinstance(value, str):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise ValueError(f"attribute {name!r}: got {len(values)} values for {count} images; "
                         "give one string or one per image")
    return values


class VitrineClient:
    def __init__(self, target: str, model_name: str = "vitrine", timeout: float = 30.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, retries: int = 4,
                 backoff_s: float = 0.5, root_certificates: bytes | None = None,
                 private_key: bytes | None = None, certificate_chain: bytes | None = None):
        """`root_certificates` (PEM bytes) switches to a TLS channel; `private_key`/`certificate_chain`
        add a client certificate for servers that require one (`--ssl-client-ca`)."""
        self.target = target
        self.model_name = model_name
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self._edit_inputs: dict[tuple[int | None, str], list[str]] = {}
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        if root_certificates is not None or certificate_chain is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "VitrineClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request, rpc: str):
        """Call with bounded retries on UNAVAILABLE (server starting or restarting)."""
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNAVAILABLE and attempt < self.retries:
                    time.sleep(delay)
                    delay = min(delay * 2, 8.0)
                    continue
                raise VitrineServingError(e.code(), e.details() or "", rpc) from None
        raise AssertionError("unreachable")

    def _spec(self, request, signature: str | None, version: int | None, version_label: str | None = None):
        request.model_spec.name = self.model_name
        if signature is not None:
            request.model_spec.signature_name = signature
        if version is not None:
            request.model_spec.version.value = int(version)
        elif version_label:
            request.model_spec.version_label = version_label

    def predict(self, signature: str, inputs: Mapping, version: int | None = None,
                version_label: str | None = None, output_filter: Sequence[str] = ()) -> tuple[dict, int]:
        """Raw Predict: `inputs` maps names to TensorProtos; returns ({name: ndarray}, served version)."""
        request = predict_pb2.PredictRequest()
        self._spec(request, signature, version, version_label)
        for name, proto in inputs.items():
            request.inputs[name].CopyFrom(proto)
        request.output_filter.extend(output_filter)
        response = self._call(self.prediction.Predict, request, f"Predict[{signature}]")
        return {k: _to_numpy(v) for k, v in response.outputs.items()}, response.model_spec.version.value

    def generate(self, attributes: Mapping[str, str | Sequence[str]], count: int = 1, seed: int = 0,
                 truncation: float = 1.0, version: int | None = None,
                 version_label: str | None = None) -> GenerateResult:
        """`count` images; image i uses seed `seed + i`, so results do not depend on batching."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        inputs = {name: _string_tensor(_attribute_values(v, count, name)) for name, v in attributes.items()}
        inputs["seed"] = _numeric_tensor(range(seed, seed + count), _DT_INT64)
        inputs["truncation"] = _numeric_tensor([truncation] * count, _DT_FLOAT)
        out, served = self.predict("generate", inputs, version, version_label)
        ids = {k[:-3]: v for k, v in out.items() if k.endswith("_id")}
        return GenerateResult(out["images"], [bytes(b) for b in out.get("png", [])], ids, served)

    def edit(self, image_bytes: bytes | Sequence[bytes], attributes: Mapping[str, str | Sequence[str]],
             strength: float | Sequence[float] = 1.0, version: int | None = None,
             version_label: str | None = None, background: str | Sequence[str] | None = None) -> EditResult:
        """Edit encoded images toward `attributes`; attributes left out (or `""`) are kept as they are.

        `background` "white" cleans the background to white, "keep" (or "") keeps it; given, the request goes to
        the `edit_background` signature, which a model version exported before background clean-up lacks (a
        ValueError says so). None keeps every background through the `edit` signature."""
        images = [image_bytes] if isinstance(image_bytes, (bytes, bytearray)) else list(image_bytes)
        n = len(images)
        signature = "edit" if background is None else "edit_background"
        attributes = {**{a: "" for a in self._edit_attributes(version, signature) if a not in attributes},
                      **attributes}
        strengths = [strength] * n if isinstance(strength, (int, float)) else list(strength)
        inputs = {name: _string_tensor(_attribute_values(v, n, name)) for name, v in attributes.items()}
        inputs["image_bytes"] = _string_tensor(images)
        inputs["strength"] = _numeric_tensor(strengths, _DT_FLOAT)
        if background is not None:
            inputs["background"] = _string_tensor(_attribute_values(background, n, "background"))
        out, served = self.predict(signature, inputs, version, version_label)
        return EditResult(out["images"], [bytes(b) for b in out.get("png", [])], out.get("mask"), served)

    def _edit_attributes(self, version: int | None, signature: str = "edit") -> list[str]:
        """The attribute inputs of an edit signature (cached per version), so callers may omit some."""
        key = (version, signature)
        if key not in self._edit_inputs:
            signatures = self.metadata(version)["signatures"]
            if signature not in signatures:
                raise ValueError(f"model {self.model_name!r} version {version if version is not None else 'latest'} "
                                 f"has no {signature!r} signature (exported before background clean-up?); "
                                 f"its signatures: {sorted(signatures)}")
            inputs = signatures[signature].get("inputs", {})
            self._edit_inputs[key] = [n for n in inputs if n not in ("image_bytes", "strength", "background")]
        return self._edit_inputs[key]

    def metadata(self, version: int | None = None) -> dict:
        """{signature name: {"inputs": {name: (dtype, shape)}, "outputs": {...}}} plus "version"."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request, None, version)
        response = self._call(self.prediction.GetModelMetadata, request, "GetModelMetadata")
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(sig_map)

        def describe(infos):
            return {name: (info.dtype, [d.size for d in info.tensor_shape.dim]) for name, info in infos.items()}

        result = {name: {"inputs": describe(sig.inputs), "outputs": describe(sig.outputs)}
                  for name, sig in sig_map.signature_def.items()}
        return {"version": response.model_spec.version.value, "signatures": result}

    def status(self, version: int | None = None) -> list[dict]:
        """[{"version", "state" (e.g. "AVAILABLE"), "error_code", "error_message"}] per known version."""
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request, None, version)
        response = self._call(self.models.GetModelStatus, request, "GetModelStatus")
        names = get_model_status_pb2.ModelVersionStatus.State.Name
        return [{"version": s.version, "state": names(s.state), "error_code": s.status.error_code,
                 "error_message": s.status.error_message} for s in response.model_version_status]
