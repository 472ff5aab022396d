"""create_pipeline: the one definition of *what* Vitrine runs; runners decide *how*.

ExampleGen (catalog, quarantine) -> StatisticsGen -> SchemaGen (or the curated schema) -> ExampleValidator ->
AnomalyGate -> Transform -> Trainer (judge) -> GanTrainer (GAN + editor, warm-started from the last blessed
model, scored by the judge while it trains) -> GanEvaluator (blessing, report) -> Pusher (TF Serving layout).

Entry points are import paths (`models.training.run_fn`, ...) so the same code runs in the Kubeflow image.
"""
import json
import os
from typing import List, Optional

from pipeline.presets import Preset

PIPELINE_NAME = "vitrine"


def create_pipeline(
    *,
    pipeline_name: str = PIPELINE_NAME,
    pipeline_root: str,
    catalog_dir: str,
    serving_model_dir: str,
    preset: Preset,
    metadata_connection_config=None,
    beam_pipeline_args: Optional[List[str]] = None,
    schema_path: Optional[str] = None,
    enable_cache: bool = False,
    warm_start: bool = True,
    checkpoint_dir: Optional[str] = None,
):
    # TFX imports are heavy (~30 s): keep them out of module import so the CLI starts fast.
    from tfx.components.example_validator.component import ExampleValidator
    from tfx.components.pusher.component import Pusher
    from tfx.components.schema_gen.component import SchemaGen
    from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
    from tfx.components.statistics_gen.component import StatisticsGen
    from tfx.components.trainer.component import Trainer
    from tfx.components.transform.component import Transform
    from tfx.dsl.components.common import resolver
    from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
    from tfx.orchestration import pipeline as tfx_pipeline
    from tfx.proto import pusher_pb2, trainer_pb2, transform_pb2
    from tfx.types import Channel
    from tfx.types.standard_artifacts import Model, ModelBlessing

    from components.anomaly_gate import AnomalyGate
    from components.catalog_example_gen import make_catalog_example_gen
    from components.gan_evaluator import GanEvaluator
    from components.gan_trainer import GanTrainer

    cfg = preset.model
    attributes = list(cfg.condition_attributes)

    example_gen = make_catalog_example_gen(
        catalog_dir,
        condition_attributes=attributes,
        min_side=preset.min_image_side,
        train_buckets=preset.train_buckets,
        eval_buckets=preset.eval_buckets,
    ).with_id("CatalogExampleGen")
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    if schema_path:
        schema_gen = ImportSchemaGen(schema_file=schema_path)
    else:
        schema_gen = SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = AnomalyGate(
        anomalies=example_validator.outputs["anomalies"],
        schema=schema_gen.outputs["schema"],
        allow_anomalies=preset.allow_anomalies,
    )
    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=gate.outputs["checked_schema"],
        preprocessing_fn="models.preprocessing.preprocessing_fn",
        custom_config={"resolution": cfg.resolution, "condition_attributes": attributes},
        # Vocabularies over every split: a value seen only in eval must not map to -1 (tfx-notes).
        splits_config=transform_pb2.SplitsConfig(analyze=["train", "eval"], transform=["train", "eval"]),
        disable_statistics=True,
    )
    model_config = {"model": cfg.to_dict()}
    judge_trainer = Trainer(
        run_fn="models.judge.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=trainer_pb2.TrainArgs(num_steps=cfg.judge_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=1),
        custom_config=model_config,
    ).with_id("JudgeTrainer")

    latest_blessed = resolver.Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=Model),
        model_blessing=Channel(type=ModelBlessing),
    ).with_id("LatestBlessedModelResolver")

    trainer_kwargs = {}
    if warm_start:
        trainer_kwargs["base_model"] = latest_blessed.outputs["model"]
    gan_config = dict(model_config)
    if checkpoint_dir:
        gan_config["checkpoint_dir"] = checkpoint_dir
    trainer = GanTrainer(
        judge=judge_trainer.outputs["model"],  # scores the model while it trains: early stop, best weights
        run_fn="models.training.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=trainer_pb2.TrainArgs(num_steps=cfg.train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=1),
        custom_config=gan_config,
        **trainer_kwargs,
    ).with_id("Trainer")
    evaluator = GanEvaluator(
        model=trainer.outputs["model"],
        judge=judge_trainer.outputs["model"],
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        baseline_model=latest_blessed.outputs["model"],
        config_json=json.dumps(preset.evaluator_config()),
    )
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_model_dir)
        ),
    )
    components = [example_gen, statistics_gen, schema_gen, example_validator, gate, transform, judge_trainer,
                  latest_blessed, trainer, evaluator, pusher]
    return tfx_pipeline.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )


def default_paths(work_dir: str) -> dict:
    """Where a local run keeps its artifacts, metadata and pushed models."""
    work_dir = os.path.abspath(work_dir)
    return {
        "pipeline_root": os.path.join(work_dir, "pipeline_root"),
        "metadata_path": os.path.join(work_dir, "metadata.sqlite"),
        "serving_model_dir": os.path.join(work_dir, "serving_model", PIPELINE_NAME),
        "checkpoint_dir": os.path.join(work_dir, "checkpoints"),
    }
