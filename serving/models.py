"""Loading SavedModel versions from a TF-Serving-style base path and watching it for new ones.

`<base>/<int version>/saved_model.pb` (+ `variables/`, `assets/`) is one version. `ModelManager` polls
the base path, loads versions the version policy wants, and swaps the served set atomically. A version
that is half-written (no `saved_model.pb` yet) or corrupt is refused with a logged reason, reported by
`status()`, and retried when its files change; the versions already serving keep serving.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from typing import Any, Mapping

log = logging.getLogger(__name__)

# ModelVersionStatus.State values (tensorflow_serving/apis/get_model_status.proto).
START, LOADING, AVAILABLE, UNLOADING, END = 10, 20, 30, 40, 50


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
    """Which versions to serve, like TF Serving's `model_version_policy`: latest N, all, or specific."""
    kind: str = "latest"            # "latest" | "all" | "specific"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def select(self, available: list[int]) -> list[int]:
        available = sorted(available)
        if self.kind == "all":
            return available
        if self.kind == "specific":
            return [v for v in available if v in self.versions]
        return available[-self.num_versions:] if self.num_versions > 0 else []


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: str
    policy: VersionPolicy = VersionPolicy()
    labels: Mapping[str, int] = dataclasses.field(default_factory=dict)


def load_model_config(path: str, default_name: str | None = None,
                      default_base_path: str | None = None) -> ModelConfig:
    """Read a model config: JSON, or TF Serving's `model_config_list` text proto (first model).

    JSON form::

        {"name": "vitrine", "base_path": "serving_model/vitrine",
         "version_policy": {"latest": 2} | {"all": true} | {"specific": [3, 4]},
         "version_labels": {"stable": 3, "canary": 4}}
    """
    with open(path) as f:
        text = f.read()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = _parse_tfs_config(text)
    policy_raw = raw.get("version_policy") or {}
    if "all" in policy_raw:
        policy = VersionPolicy("all")
    elif "specific" in policy_raw:
        policy = VersionPolicy("specific", versions=tuple(int(v) for v in policy_raw["specific"]))
    else:
        policy = VersionPolicy("latest", num_versions=int(policy_raw.get("latest", 1)))
    base = raw.get("base_path") or default_base_path
    if not base:
        raise ValueError(f"{path}: no base_path in the model config and none given on the command line")
    name = raw.get("name") or default_name or os.path.basename(os.path.normpath(base))
    labels = {str(k): int(v) for k, v in (raw.get("version_labels") or {}).items()}
    return ModelConfig(name=name, base_path=base, policy=policy, labels=labels)


def _parse_tfs_config(text: str) -> dict[str, Any]:
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    msg = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(text, msg)
    if not msg.model_config_list.config:
        raise ValueError("model config text proto has no model_config_list.config entry")
    cfg = msg.model_config_list.config[0]
    pol = cfg.model_version_policy
    which = pol.WhichOneof("policy_choice")
    if which == "all":
        policy = {"all": True}
    elif which == "specific":
        policy = {"specific": list(pol.specific.versions)}
    elif which == "latest":
        policy = {"latest": pol.latest.num_versions or 1}
    else:
        policy = {}
    return {"name": cfg.name, "base_path": cfg.base_path, "version_policy": policy,
            "version_labels": dict(cfg.version_labels)}


@dataclasses.dataclass
class LoadedVersion:
    version: int
    path: str
    module: Any
    signatures: Mapping[str, Any]        # name -> ConcreteFunction
    signature_defs: Mapping[str, Any]    # name -> meta_graph_pb2.SignatureDef
    input_specs: Mapping[str, Mapping[str, Any]]  # signature -> input name -> tf.TensorSpec
    output_names: Mapping[str, list[str]]         # signature -> output names


@dataclasses.dataclass
class VersionState:
    state: int
    error: str = ""
    error_code: int = 0                 # tensorflow.error.Code
    fingerprint: tuple = ()


def _fingerprint(path: str) -> tuple:
    entries = []
    for root, _, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            entries.append((os.path.relpath(os.path.join(root, name), path), st.st_size, st.st_mtime_ns))
    return tuple(sorted(entries))


def load_version(path: str, version: int) -> LoadedVersion:
    """Load one SavedModel version; raises ValueError with the reason if it is unusable."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    pb_path = os.path.join(path, "saved_model.pb")
    if not os.path.exists(pb_path):
        raise ValueError(f"{path} has no saved_model.pb (still being written?)")
    proto = saved_model_pb2.SavedModel()
    try:
        with open(pb_path, "rb") as f:
            proto.ParseFromString(f.read())
    except Exception as e:  # protobuf raises DecodeError or RuntimeWarning-ish errors
        raise ValueError(f"{pb_path} is not a valid SavedModel proto: {e}") from e
    if not proto.meta_graphs:
        raise ValueError(f"{pb_path} has no meta graph")
    signature_defs = {k: v for k, v in proto.meta_graphs[0].signature_def.items()
                      if not k.startswith("__")}
    try:
        module = tf.saved_model.load(path)
    except Exception as e:
        raise ValueError(f"tf.saved_model.load({path}) failed: {type(e).__name__}: "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}") from e
    signatures = dict(module.signatures)
    if not signatures:
        raise ValueError(f"{path} has no serving signatures")
    input_specs = {name: dict(fn.structured_input_signature[1]) for name, fn in signatures.items()}
    output_names = {name: sorted(fn.structured_outputs) for name, fn in signatures.items()}
    return LoadedVersion(version, path, module, signatures,
                         {k: signature_defs[k] for k in signatures if k in signature_defs}, input_specs,
                         output_names)


class ModelManager:
    """Serves the versions of one model that its policy selects; `poll()` picks up changes."""

    def __init__(self, config: ModelConfig, poll_interval_s: float = 2.0):
        self.config = config
        self.poll_interval_s = poll_interval_s
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._served: dict[int, LoadedVersion] = {}      # replaced, never mutated in place
        self._states: dict[int, VersionState] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_change = None                               # callback(served: dict) after each swap

    @property
    def name(self) -> str:
        return self.config.name

    def served(self) -> dict[int, LoadedVersion]:
        return self._served

    def states(self) -> dict[int, VersionState]:
        with self._lock:
            return dict(self._states)

    def _versions_on_disk(self) -> dict[int, str]:
        base = self.config.base_path
        found = {}
        try:
            names = os.listdir(base)
        except FileNotFoundError:
            return found
        for n in names:
            if n.isdigit() and os.path.isdir(os.path.join(base, n)):
                found[int(n)] = os.path.join(base, n)
        return found

    def poll(self) -> None:
        """Load what the policy wants and is not yet loaded, then swap the served set in one step."""
        with self._poll_lock:
            on_disk = self._versions_on_disk()
            wanted_order = sorted(on_disk, reverse=True)
            served = dict(self._served)
            changed = False
            # Newest first: under "latest N" the N newest *loadable* versions are served.
            loadable: list[int] = [v for v in wanted_order if v in served]
            for v in wanted_order:
                if v in served:
                    continue
                if self.config.policy.kind == "specific" and v not in self.config.policy.versions:
                    continue
                if self.config.policy.kind == "latest" and len(loadable) >= self.config.policy.num_versions \
                        and v < min(loadable):
                    continue
                path = on_disk[v]
                fp = _fingerprint(path)
                prev = self._states.get(v)
                if prev is not None and prev.state == END and prev.error and prev.fingerprint == fp:
                    continue  # refused before and unchanged since: do not retry every poll
                with self._lock:
                    self._states[v] = VersionState(LOADING, fingerprint=fp)
                log.info("model %s: loading version %d from %s", self.name, v, path)
                try:
                    loaded = load_version(path, v)
                except ValueError as e:
                    code = 9 if "no saved_model.pb" in str(e) else 3  # FAILED_PRECONDITION / INVALID_ARGUMENT
                    log.error("model %s: refusing version %d: %s", self.name, v, e)
                    with self._lock:
                        self._states[v] = VersionState(END, str(e), code, fp)
                    continue
                served[v] = loaded
                loadable.append(v)
                changed = True
                log.info("model %s: version %d loaded, signatures %s", self.name, v, sorted(loaded.signatures))
            keep = set(self.config.policy.select([v for v in served if v in on_disk]))
            if self.config.policy.kind == "latest":
                keep = set(sorted(keep)[-self.config.policy.num_versions:])
            for v in list(served):
                if v not in keep:
                    log.info("model %s: unloading version %d", self.name, v)
                    del served[v]
                    changed = True
                    with self._lock:
                        self._states[v] = VersionState(END)
            if changed or served.keys() != self._served.keys():
                with self._lock:
                    self._served = served  # atomic swap: readers see the old or the new dict
                    for v in served:
                        self._states[v] = VersionState(AVAILABLE)
                if self.on_change:
                    self.on_change(served)

    def start(self) -> None:
        self.poll()
        self._thread = threading.Thread(target=self._run, name=f"poll-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.poll()
            except Exception:  # a poll failure must never kill the watcher
                log.exception("model %s: polling %s failed", self.name, self.config.base_path)

    def stop(self) -> None:
        self._stop.set()

    def resolve(self, version: int | None, label: str | None) -> LoadedVersion:
        """The loaded version a request asks for; raises LookupError naming what is available."""
        served = self._served
        if label:
            if label not in self.config.labels:
                raise LookupError(f"model {self.name!r} has no version label {label!r}; "
                                  f"labels: {sorted(self.config.labels) or 'none'}")
            version = self.config.labels[label]
        if version is None:
            if not served:
                raise LookupError(f"model {self.name!r} has no loaded version yet")
            return served[max(served)]
        if version not in served:
            raise LookupError(f"model {self.name!r} version {version} is not available; "
                              f"available versions: {sorted(served) or 'none'}")
        return served[version]
