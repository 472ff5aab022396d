"""Local runner: LocalDagRunner + SQLite MLMD, Beam's DirectRunner for the data steps.

Curated schema: the first successful run keeps SchemaGen's inferred schema as `<work_dir>/schema/schema.pbtxt`
(string domains kept only for the condition attributes); later runs import it (ImportSchemaGen), so a new span is
validated against what the model was trained on and AnomalyGate stops on e.g. an unknown articleType, naming it.
`accept_new_values=True` (`vitrine run --accept-new-values`) infers a schema from the new data again and, after a
successful run, replaces the curated one with it: updating the schema is deliberate.
"""
import glob
import logging
import os
from typing import List, Optional, Sequence

from pipeline.pipeline import create_pipeline, default_paths
from pipeline.presets import Preset

log = logging.getLogger("vitrine.run")

CURATED_SCHEMA = os.path.join("schema", "schema.pbtxt")


def curated_schema_path(work_dir: str) -> str:
    return os.path.join(os.path.abspath(work_dir), CURATED_SCHEMA)


def latest_inferred_schema(pipeline_root: str) -> Optional[str]:
    """The schema.pbtxt of SchemaGen's newest execution under pipeline_root, if any."""
    found = glob.glob(os.path.join(pipeline_root, "SchemaGen", "schema", "*", "schema.pbtxt"))
    found = [p for p in found if os.path.basename(os.path.dirname(p)).isdigit()]
    return max(found, key=lambda p: int(os.path.basename(os.path.dirname(p)))) if found else None


def curate_schema(inferred_path: str, dest: str, keep_domains_for: Sequence[str]) -> str:
    """Writes the inferred schema to dest, keeping string domains only for `keep_domains_for`.

    Ids, display names, seasons... change with every drop; only the condition attributes are vocabularies the
    model depends on, so only they are pinned to their known values."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    with open(inferred_path) as f:
        text_format.Parse(f.read(), schema)
    keep = set(keep_domains_for)
    for feature in schema.feature:
        if feature.name not in keep and feature.WhichOneof("domain_info") in ("domain", "string_domain"):
            feature.ClearField(feature.WhichOneof("domain_info"))
    used = {f.domain for f in schema.feature if f.WhichOneof("domain_info") == "domain"}
    kept = [d for d in schema.string_domain if d.name in used]
    del schema.string_domain[:]
    schema.string_domain.extend(kept)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = dest + ".tmp"
    with open(tmp, "w") as f:
        f.write(text_format.MessageToString(schema))
    os.replace(tmp, dest)
    return dest


def run_local(catalog_dir: str, work_dir: str, preset: Preset, beam_pipeline_args: Optional[List[str]] = None,
              schema_path: Optional[str] = None, enable_cache: bool = False, accept_new_values: bool = False,
              curated_schema: bool = True) -> dict:
    from tfx.orchestration import metadata
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    paths = default_paths(work_dir)
    paths["curated_schema"] = curated_schema_path(work_dir)
    os.makedirs(os.path.dirname(paths["metadata_path"]), exist_ok=True)
    use_curated = (curated_schema and schema_path is None and not accept_new_values
                   and os.path.exists(paths["curated_schema"]))
    if use_curated:
        schema_path = paths["curated_schema"]
        log.info("Validating against the curated schema %s", schema_path)
    tfx_pipeline = create_pipeline(
        pipeline_root=paths["pipeline_root"],
        catalog_dir=os.path.abspath(catalog_dir),
        serving_model_dir=paths["serving_model_dir"],
        preset=preset,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(paths["metadata_path"]),
        beam_pipeline_args=beam_pipeline_args,
        schema_path=schema_path,
        enable_cache=enable_cache,
        checkpoint_dir=paths["checkpoint_dir"],
    )
    log.info("Running pipeline %s (preset %s) on %s; artifacts under %s", tfx_pipeline.pipeline_info.pipeline_name,
             preset.name, catalog_dir, paths["pipeline_root"])
    LocalDagRunner().run(tfx_pipeline)
    if curated_schema and schema_path is None and (accept_new_values or not os.path.exists(paths["curated_schema"])):
        inferred = latest_inferred_schema(paths["pipeline_root"])
        if inferred:
            curate_schema(inferred, paths["curated_schema"], preset.model.condition_attributes)
            log.info("Curated schema %s from %s", paths["curated_schema"], inferred)
    return paths
