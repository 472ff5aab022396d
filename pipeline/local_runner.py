"""Local runner: LocalDagRunner + SQLite MLMD, Beam's DirectRunner for the data steps."""
import logging
import os
from typing import List, Optional

from pipeline.pipeline import create_pipeline, default_paths
from pipeline.presets import Preset

log = logging.getLogger("vitrine.run")


def run_local(catalog_dir: str, work_dir: str, preset: Preset, beam_pipeline_args: Optional[List[str]] = None,
              schema_path: Optional[str] = None, enable_cache: bool = False) -> dict:
    from tfx.orchestration import metadata
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    paths = default_paths(work_dir)
    os.makedirs(os.path.dirname(paths["metadata_path"]), exist_ok=True)
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
    return paths
