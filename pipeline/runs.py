"""Reads what runs produced from ML Metadata: components, artifacts, evaluation outcome, pushed versions."""
import dataclasses
import os
from typing import Dict, List, Optional


@dataclasses.dataclass
class RunSummary:
    run_id: str
    state_by_component: Dict[str, str]
    artifacts_by_component: Dict[str, List[str]]  # component id -> artifact type names it output
    blessed: Optional[bool] = None
    reasons: str = ""
    report: Optional[str] = None
    metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
    pushed_version: Optional[str] = None
    pushed_destination: Optional[str] = None
    kept: Optional[int] = None
    quarantined: Optional[int] = None
    quarantine_file: Optional[str] = None


def _store(metadata_path: str):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    if not os.path.exists(metadata_path):
        raise FileNotFoundError(f"No ML Metadata at {metadata_path}: run the pipeline first (vitrine run)")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _prop(artifact, name):
    if name in artifact.custom_properties:
        value = artifact.custom_properties[name]
        which = value.WhichOneof("value")
        return getattr(value, which) if which else None
    return None


def _component_id(store, execution, context_type_names) -> str:
    """TFX records each execution under a `node` context named '<pipeline>.<component id>'."""
    for context in store.get_contexts_by_execution(execution.id):
        if context_type_names.get(context.type_id) == "node":
            return context.name.split(".", 1)[-1]
    return str(execution.type_id)


def list_runs(metadata_path: str, limit: int = 10) -> List[RunSummary]:
    """Most recent pipeline runs first."""
    from ml_metadata.proto import metadata_store_pb2

    store = _store(metadata_path)
    run_contexts = [c for c in store.get_contexts_by_type("pipeline_run")]
    run_contexts.sort(key=lambda c: c.create_time_since_epoch, reverse=True)
    type_names = {t.id: t.name for t in store.get_artifact_types()}
    context_type_names = {t.id: t.name for t in store.get_context_types()}
    state_names = metadata_store_pb2.Execution.State.Name
    summaries = []
    for context in run_contexts[:limit]:
        executions = store.get_executions_by_context(context.id)
        states, outputs = {}, {}
        summary = RunSummary(run_id=context.name, state_by_component=states, artifacts_by_component=outputs)
        for execution in executions:
            component = _component_id(store, execution, context_type_names)
            states[component] = state_names(execution.last_known_state)
            events = store.get_events_by_execution_ids([execution.id])
            out_ids = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
            artifacts = store.get_artifacts_by_id(out_ids) if out_ids else []
            outputs[component] = sorted(type_names.get(a.type_id, "?") for a in artifacts)
            for artifact in artifacts:
                kind = type_names.get(artifact.type_id)
                if kind == "ModelBlessing":
                    summary.blessed = _prop(artifact, "blessed") == 1
                    summary.reasons = _prop(artifact, "reasons") or ""
                    summary.report = _prop(artifact, "report")
                elif kind == "ModelEvaluation":
                    summary.metrics = {k: v.double_value for k, v in artifact.custom_properties.items()
                                       if v.WhichOneof("value") == "double_value"}
                    summary.report = summary.report or _prop(artifact, "report")
                elif kind == "PushedModel" and _prop(artifact, "pushed") == 1:
                    summary.pushed_version = str(_prop(artifact, "pushed_version"))
                    summary.pushed_destination = _prop(artifact, "pushed_destination")
                elif kind == "Examples" and component.endswith("ExampleGen"):
                    summary.kept = _prop(artifact, "catalog_kept")
                    summary.quarantined = _prop(artifact, "catalog_quarantined")
                    summary.quarantine_file = os.path.join(artifact.uri, "quarantine.csv")
        summaries.append(summary)
    return summaries


def latest_run(metadata_path: str) -> RunSummary:
    runs = list_runs(metadata_path, limit=1)
    if not runs:
        raise LookupError(f"No pipeline runs recorded in {metadata_path}")
    return runs[0]
