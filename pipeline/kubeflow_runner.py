"""Kubeflow Pipelines v2 runner: compiles the same create_pipeline() into a PipelineSpec YAML.

The compiled spec references code by import path, so the container image (see Dockerfile) must have this
project installed. The pipeline root is supplied when the run is submitted (the YAML holds only the spec).
"""
import os
from typing import List, Optional

from pipeline.pipeline import PIPELINE_NAME, create_pipeline
from pipeline.presets import Preset

TRAINER_IDS = ("Trainer", "JudgeTrainer")


def gpu_resources(gpus: int, gpu_type: str = "NVIDIA_TESLA_T4", cpu: float = 8.0, memory_gib: float = 32.0):
    """A KFP v2 ResourceSpec requesting `gpus` accelerators for a component's container."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    spec.cpu_limit = cpu
    spec.memory_limit = memory_gib
    if gpus:
        spec.accelerator.type = gpu_type
        spec.accelerator.count = gpus
    return spec


def compile_kubeflow(output_path: str, preset: Preset, image: str, pipeline_root: str, catalog_dir: str,
                     serving_model_dir: str, beam_pipeline_args: Optional[List[str]] = None,
                     gpu_type: str = "NVIDIA_TESLA_T4") -> str:
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    tfx_pipeline = create_pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=pipeline_root,
        catalog_dir=catalog_dir,
        serving_model_dir=serving_model_dir,
        preset=preset,
        beam_pipeline_args=beam_pipeline_args,
    )
    for component in tfx_pipeline.components:
        if component.id in TRAINER_IDS:
            component.with_platform_config(gpu_resources(max(preset.trainer_gpus, 1) if component.id == "Trainer"
                                                         else preset.trainer_gpus, gpu_type))
    output_path = os.path.abspath(output_path)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(output_path),
        output_filename=os.path.basename(output_path),
    )
    runner.run(tfx_pipeline, write_out=True)
    return output_path
