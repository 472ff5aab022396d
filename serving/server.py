"""A gRPC server that speaks TF Serving's API (PredictionService + ModelService) for Vitrine SavedModels.

TF Serving cannot be installed on the project's machines; this server answers the same RPCs from
`tensorflow_serving.apis`, so clients written against the official stubs work unchanged against either.

Command line::

    python -m serving.server --model-base-path serving_model/vitrine --port 8500 [--model-name vitrine]
        [--poll-interval 2] [--max-message-mb 64] [--model-config-file cfg.json|models.config]
        [--enable-batching] [--batching-parameters-file batching.config] [--max-request-batch 64]
        [--ssl-cert server.pem --ssl-key server.key [--ssl-client-ca ca.pem]] [--rest-port 8501]

Python API (what `vitrine serve` calls)::

    from serving.server import serve, build_server
    server = serve(model_base_path, port=8500, model_name=None, host="0.0.0.0", poll_interval_s=2.0,
                   max_message_bytes=64 << 20, enable_batching=False, batching=None, max_request_batch=64,
                   model_config_file=None, max_workers=16, ssl_cert=None, ssl_key=None,
                   ssl_client_ca=None, rest_port=None)
    server.port            # bound port (port=0 picks a free one)
    server.wait()          # block until stopped (Ctrl-C -> graceful stop)
    server.stop(grace=5.0) # finish in-flight requests for up to `grace` seconds, then close

`build_server(...)` takes the same arguments and returns the server before `start()` is called.

Implemented: Predict (any signature, `output_filter`, `model_spec.version` / `version_label`),
GetModelMetadata (`signature_def`), GetModelStatus. Classify, Regress, MultiInference and
HandleReloadConfigRequest answer UNIMPLEMENTED.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import threading
from concurrent import futures
from typing import Any, Mapping

import grpc
import numpy as np

from serving.batching import Batcher, BatcherClosed, BatchingConfig, QueueFull, load_batching_config
from serving.errors import RequestError  # noqa: F401 - re-exported
from serving.models import AVAILABLE, ModelConfig, ModelManager, VersionPolicy, load_model_config

log = logging.getLogger("serving.server")

DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def clean_tf_error(message: str) -> str:
    """One line from a TF runtime error: the assertion text without 'Graph execution error' noise."""
    m = re.search(r"assertion failed: \[(.*?)\](?:\s*\n|\s*$|\s*\[\[)", message, re.S)
    if m:
        text = m.group(1)
    else:
        lines = []
        for line in message.splitlines():
            s = line.strip()
            if not s or s.startswith(("Graph execution error", "Detected at node", "<stack traces",
                                      "File ", "[[{{", "Traceback")):
                continue
            lines.append(s)
        text = lines[0] if lines else message.strip()
    text = re.sub(r"\s*\[\[\{\{.*$", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", text)
    return text.replace("\\'", "'").replace('\\"', '"').strip()


def _is_input_error(e: BaseException) -> bool:
    import tensorflow as tf

    return isinstance(e, (tf.errors.InvalidArgumentError, RequestError))


class Runner:
    """Calls one signature of one loaded version with numpy inputs (optionally through a Batcher)."""

    def __init__(self, fn, batching: BatchingConfig | None, name: str):
        self._fn = fn
        self.batcher = Batcher(self._call, batching, name, _is_input_error) if batching else None

    def _call(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import tensorflow as tf

        outputs = self._fn(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    def __call__(self, inputs: Mapping[str, np.ndarray], size: int | None, timeout: float | None):
        if self.batcher is None or size is None:
            return self._call(inputs)
        try:
            future = self.batcher.submit(inputs, size)
        except QueueFull as e:
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e)) from e
        except BatcherClosed:
            return self._call(inputs)
        try:
            return future.result(timeout=timeout)
        except futures.TimeoutError as e:
            future.cancel()
            raise RequestError(grpc.StatusCode.DEADLINE_EXCEEDED,
                               "deadline exceeded while waiting in the batching queue") from e

    def close(self) -> None:
        if self.batcher:
            self.batcher.close()


class VitrineServicer:
    def __init__(self, manager: ModelManager, batching: BatchingConfig | None = None,
                 max_request_batch: int = 64):
        self.manager = manager
        self.batching = batching
        self.max_request_batch = max_request_batch
        self._runners: dict[tuple[int, str], Runner] = {}
        self._runners_lock = threading.Lock()
        self.inflight = 0
        self._inflight_lock = threading.Lock()
        manager.on_change = self._drop_stale_runners

    # --- helpers ---------------------------------------------------------------------------------------
    def _drop_stale_runners(self, served: Mapping[int, Any]) -> None:
        with self._runners_lock:
            for key in [k for k in self._runners if k[0] not in served]:
                self._runners.pop(key).close()

    def _runner(self, loaded, signature: str) -> Runner:
        key = (loaded.version, signature)
        with self._runners_lock:
            if loaded.version not in self.manager.served():
                # Unloaded while this request was in flight: finish it unbatched, cache nothing for it.
                return Runner(loaded.signatures[signature], None, "stale")
            runner = self._runners.get(key)
            if runner is None:
                runner = Runner(loaded.signatures[signature], self.batching,
                                f"batch-{self.manager.name}-{loaded.version}-{signature}")
                self._runners[key] = runner
            return runner

    def _resolve(self, spec):
        if spec.name and spec.name != self.manager.name:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"Servable not found for request: model {spec.name!r}; "
                               f"this server serves {self.manager.name!r}")
        choice = spec.WhichOneof("version_choice")
        version = spec.version.value if choice == "version" else None
        label = spec.version_label if choice == "version_label" else None
        try:
            return self.manager.resolve(version, label)
        except LookupError as e:
            raise RequestError(grpc.StatusCode.NOT_FOUND, str(e)) from e

    @staticmethod
    def _abort(context, e: RequestError):
        context.abort(e.code, e.message)

    def _convert_inputs(self, request, loaded, signature: str) -> tuple[dict[str, np.ndarray], int | None]:
        import tensorflow as tf

        specs = loaded.input_specs[signature]
        given = set(request.inputs)
        unknown = sorted(given - set(specs))
        missing = sorted(set(specs) - given)
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"unknown input(s) {unknown}")
            if missing:
                parts.append(f"missing input(s) {missing}")
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"signature {signature!r}: {'; '.join(parts)}; expected inputs: {sorted(specs)}")
        arrays = {}
        batch: int | None = None
        batch_consistent = True
        for name in sorted(specs):
            spec = specs[name]
            proto = request.inputs[name]
            want = spec.dtype.as_datatype_enum
            if proto.dtype != want:
                got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "DT_INVALID"
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"input {name!r}: expects dtype {spec.dtype.name}, got {got}")
            try:
                value = tf.make_ndarray(proto)
            except Exception as e:  # noqa: BLE001 - any decoding failure is the caller's input
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"input {name!r}: cannot decode TensorProto: {e}") from e
            if not spec.shape.is_compatible_with(value.shape):
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"input {name!r}: shape {list(value.shape)} is not compatible with "
                                   f"the signature's {spec.shape}")
            if value.ndim >= 1:
                if batch is None:
                    batch = value.shape[0]
                elif value.shape[0] != batch:
                    batch_consistent = False
            if name == "image_bytes" and spec.dtype == tf.string:
                for i, item in enumerate(value.reshape(-1)):
                    if not bytes(item).startswith(IMAGE_MAGIC):
                        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                           f"input 'image_bytes'[{i}]: not a PNG, JPEG, GIF or BMP image "
                                           f"({len(item)} bytes starting {bytes(item)[:8]!r})")
            arrays[name] = value
        if not batch_consistent:
            sizes = {n: (list(a.shape[:1]) or None) for n, a in arrays.items()}
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"signature {signature!r}: inputs disagree on the batch size (dim 0): {sizes}")
        if batch is not None and batch > self.max_request_batch:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"request asks for {batch} items; this server allows at most "
                               f"{self.max_request_batch} per request (split the request)")
        if batch == 0:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "request has 0 items (dim 0 of the inputs)")
        return arrays, batch if batch_consistent else None

    # --- PredictionService -----------------------------------------------------------------------------
    def Predict(self, request, context):
        with self._inflight_lock:
            self.inflight += 1
        try:
            return self.predict_request(request, context.time_remaining())
        except RequestError as e:
            if e.code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
                log.warning("Predict: %s: %s", e.code.name, e.message)
            self._abort(context, e)
        except Exception as e:  # noqa: BLE001 - a bug or model failure: log it, answer INTERNAL
            log.exception("Predict failed")
            context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")
        finally:
            with self._inflight_lock:
                self.inflight -= 1

    def predict_request(self, request, remaining: float | None):
        """Answer a PredictRequest (shared by gRPC and REST); raises RequestError for the caller's mistakes."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        loaded = self._resolve(request.model_spec)
        signature = request.model_spec.signature_name or "serving_default"
        if signature not in loaded.signatures:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"Serving signature name: {signature!r} not found in signature def; "
                               f"available: {sorted(loaded.signatures)}")
        out_names = loaded.output_names[signature]
        bad_filter = sorted(set(request.output_filter) - set(out_names))
        if bad_filter:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"output_filter names unknown output(s) {bad_filter}; outputs: {sorted(out_names)}")
        inputs, size = self._convert_inputs(request, loaded, signature)
        if remaining is not None and remaining <= 0:
            raise RequestError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded before running")
        try:
            outputs = self._runner(loaded, signature)(inputs, size, remaining)
        except tf.errors.InvalidArgumentError as e:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, clean_tf_error(e.message)) from e
        except tf.errors.OpError as e:
            log.exception("signature %s of version %d failed", signature, loaded.version)
            raise RequestError(grpc.StatusCode.INTERNAL, clean_tf_error(e.message)) from e
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.manager.name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = signature
        wanted = set(request.output_filter) or set(outputs)
        for name, value in outputs.items():
            if name in wanted:
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):
        from tensorflow_serving.apis import get_model_metadata_pb2

        try:
            loaded = self._resolve(request.model_spec)
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"metadata_field must be ['signature_def'], got {fields}")
        except RequestError as e:
            self._abort(context, e)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.manager.name
        response.model_spec.version.value = loaded.version
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        for name, sig in loaded.signature_defs.items():
            sig_map.signature_def[name].CopyFrom(sig)
        response.metadata["signature_def"].Pack(sig_map)
        return response

    def Classify(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "Classify is not supported by Vitrine models; use Predict with signature 'generate' or 'edit'")

    def Regress(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "Regress is not supported by Vitrine models; use Predict with signature 'generate' or 'edit'")

    def MultiInference(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "MultiInference is not supported by this server; use Predict")

    # --- ModelService ----------------------------------------------------------------------------------
    def GetModelStatus(self, request, context):
        from tensorflow_serving.apis import get_model_status_pb2

        spec = request.model_spec
        if spec.name and spec.name != self.manager.name:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Could not find any versions of model {spec.name!r}; "
                          f"this server serves {self.manager.name!r}")
        states = self.manager.states()
        choice = spec.WhichOneof("version_choice")
        if choice == "version":
            wanted = [spec.version.value]
        elif choice == "version_label":
            if spec.version_label not in self.manager.config.labels:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no version label {spec.version_label!r}")
            wanted = [self.manager.config.labels[spec.version_label]]
        else:
            wanted = sorted(states)
        missing = [v for v in wanted if v not in states]
        if missing:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"model {self.manager.name!r} version {missing[0]} not found; "
                          f"known versions: {sorted(states) or 'none'}")
        response = get_model_status_pb2.GetModelStatusResponse()
        for v in wanted:
            st = states[v]
            item = response.model_version_status.add(version=v, state=st.state)
            item.status.error_code = st.error_code
            item.status.error_message = st.error
        return response

    def HandleReloadConfigRequest(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "HandleReloadConfigRequest is not supported; this server watches --model-base-path "
                      "and --model-config-file is read at start-up")


class VitrineServer:
    """A started-or-startable server: `.port`, `.start()`, `.wait()`, `.stop(grace)`."""

    def __init__(self, grpc_server: grpc.Server, port: int, manager: ModelManager, servicer: VitrineServicer,
                 rest=None, tls: bool = False):
        self._server = grpc_server
        self.port = port
        self.rest = rest
        self.rest_port = rest.port if rest else None
        self.tls = tls
        self.manager = manager
        self.servicer = servicer
        self._stopped = threading.Event()

    def start(self) -> "VitrineServer":
        self.manager.start()
        self._server.start()
        if self.rest:
            self.rest.start()
        log.info("serving model %r from %s on port %d%s%s", self.manager.name, self.manager.config.base_path,
                 self.port, " (TLS)" if self.tls else "", f", REST on {self.rest_port}" if self.rest else "")
        return self

    def stop(self, grace: float | None = 5.0) -> None:
        """Refuse new RPCs, let in-flight ones finish for up to `grace` seconds, then close."""
        log.info("stopping (grace %ss, %d request(s) in flight)", grace, self.servicer.inflight)
        self.manager.stop()
        if self.rest:
            self.rest.stop()
        self._server.stop(grace).wait()
        with self.servicer._runners_lock:
            for runner in self.servicer._runners.values():
                runner.close()
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)


def build_server(model_base_path: str | os.PathLike | None = None, port: int = 8500,
                 model_name: str | None = None, host: str = "0.0.0.0", poll_interval_s: float = 2.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, enable_batching: bool = False,
                 batching: BatchingConfig | str | None = None, max_request_batch: int = 64,
                 model_config_file: str | None = None, max_workers: int = 16,
                 ssl_cert: str | None = None, ssl_key: str | None = None, ssl_client_ca: str | None = None,
                 rest_port: int | None = None) -> VitrineServer:
    """Create (not start) a server. `batching` is a BatchingConfig or a TF Serving batching parameters file.

    `ssl_cert`/`ssl_key` (PEM files) switch gRPC to TLS; with `ssl_client_ca` clients must present a
    certificate signed by that CA. `rest_port` (0 = a free one) adds TF Serving's REST API over plain HTTP.
    """
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    base = os.fspath(model_base_path) if model_base_path is not None else None
    if model_config_file:
        config = load_model_config(model_config_file, model_name, base)
    else:
        if not base:
            raise ValueError("give model_base_path (the folder holding <version>/saved_model.pb) "
                             "or a model_config_file")
        config = ModelConfig(model_name or os.path.basename(os.path.normpath(base)), base, VersionPolicy())
    if isinstance(batching, str):
        batching = load_batching_config(batching)
    if enable_batching and batching is None:
        batching = BatchingConfig()
    manager = ModelManager(config, poll_interval_s)
    servicer = VitrineServicer(manager, batching if (enable_batching or batching) else None, max_request_batch)
    options = [("grpc.max_receive_message_length", max_message_bytes),
               ("grpc.max_send_message_length", max_message_bytes)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rpc"),
                         options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, server)
    _add_health(server, manager)
    if bool(ssl_cert) != bool(ssl_key):
        raise ValueError("TLS needs both ssl_cert and ssl_key")
    if ssl_client_ca and not ssl_cert:
        raise ValueError("ssl_client_ca needs ssl_cert and ssl_key")
    if ssl_cert:
        with open(ssl_cert, "rb") as f:
            cert = f.read()
        with open(ssl_key, "rb") as f:
            key = f.read()
        client_ca = None
        if ssl_client_ca:
            with open(ssl_client_ca, "rb") as f:
                client_ca = f.read()
        credentials = grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca,
                                                  require_client_auth=client_ca is not None)
        bound = server.add_secure_port(f"{host}:{port}", credentials)
    else:
        bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"could not bind {host}:{port}")
    rest = None
    if rest_port is not None:
        from serving.rest import RestServer

        rest = RestServer(servicer, host, rest_port, max_body_bytes=max_message_bytes)
    return VitrineServer(server, bound, manager, servicer, rest=rest, tls=bool(ssl_cert))


def _add_health(server: grpc.Server, manager: ModelManager) -> None:
    try:
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    except ImportError:
        return
    checker = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)

    def update(served):
        state = health_pb2.HealthCheckResponse.SERVING if served else health_pb2.HealthCheckResponse.NOT_SERVING
        checker.set("", state)
        checker.set(manager.name, state)

    previous = manager.on_change

    def on_change(served):
        if previous:
            previous(served)
        update(served)

    manager.on_change = on_change
    update({})


def serve(model_base_path: str | os.PathLike | None = None, port: int = 8500, **kwargs) -> VitrineServer:
    """Build and start a server; returns it (see the module docstring for the arguments)."""
    return build_server(model_base_path, port, **kwargs).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base-path", help="folder holding <version>/saved_model.pb")
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--model-name", help="defaults to the base path's folder name")
    parser.add_argument("--model-config-file", help="JSON or TF Serving model_config_list text proto")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between base path scans")
    parser.add_argument("--max-message-mb", type=float, default=DEFAULT_MAX_MESSAGE_BYTES / (1 << 20))
    parser.add_argument("--enable-batching", action="store_true")
    parser.add_argument("--batching-parameters-file", help="TF Serving batching parameters (text format)")
    parser.add_argument("--max-request-batch", type=int, default=64, help="most images one request may ask for")
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--ssl-cert", help="PEM certificate chain: serve gRPC over TLS (with --ssl-key)")
    parser.add_argument("--ssl-key", help="PEM private key for --ssl-cert")
    parser.add_argument("--ssl-client-ca", help="PEM CA bundle: require client certificates signed by it")
    parser.add_argument("--rest-port", type=int, default=None,
                        help="also serve TF Serving's REST API on this port (0 = free port; default off)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("serving").setLevel(args.log_level.upper())  # DEBUG here does not unleash TF's logs
    if not args.model_base_path and not args.model_config_file:
        parser.error("give --model-base-path or --model-config-file")
    if bool(args.ssl_cert) != bool(args.ssl_key) or (args.ssl_client_ca and not args.ssl_cert):
        parser.error("--ssl-cert and --ssl-key go together; --ssl-client-ca needs both")
    server = serve(args.model_base_path, args.port, model_name=args.model_name, host=args.host,
                   poll_interval_s=args.poll_interval, max_message_bytes=int(args.max_message_mb * (1 << 20)),
                   enable_batching=args.enable_batching, batching=args.batching_parameters_file,
                   max_request_batch=args.max_request_batch, model_config_file=args.model_config_file,
                   max_workers=args.max_workers, ssl_cert=args.ssl_cert, ssl_key=args.ssl_key,
                   ssl_client_ca=args.ssl_client_ca, rest_port=args.rest_port)
    available = [v for v, s in server.manager.states().items() if s.state == AVAILABLE]
    extra = (" tls=1" if server.tls else "") + (f" rest_port={server.rest_port}" if server.rest else "")
    print(f"READY port={server.port} model={server.manager.name} versions={sorted(available)}{extra}", flush=True)

    def on_signal(signum, _frame):
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=server.stop, args=(5.0,), daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
