"""GanTrainer: the standard TFX Trainer (GenericExecutor, `run_fn`) with one more optional input, the judge.

The stock Trainer's inputs are fixed (examples, transform_graph, schema, base_model, hyperparameters), so a
model from another Trainer cannot reach `run_fn`. This component keeps the Trainer's spec, outputs (`model`,
`model_run`), executor and MLMD type annotation, adds `judge: Model`, and hands the judge's serving directory to
`run_fn` as `fn_args.custom_config["judge_model"]` (see `models.judge_monitor`). Kubeflow runs it like any
custom Python component: same image, same entry point.
"""
from typing import Any, Dict, Optional

from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils, path_utils

JUDGE_KEY = "judge"
JUDGE_MODEL_CONFIG_KEY = "judge_model"


class GanTrainerSpec(standard_component_specs.TrainerSpec):
    INPUTS = {
        **standard_component_specs.TrainerSpec.INPUTS,
        JUDGE_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
    }


class GanTrainerExecutor(trainer_executor.GenericExecutor):
    def _GetFnArgs(self, input_dict, output_dict, exec_properties):
        fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
        judges = input_dict.get(JUDGE_KEY) or []
        if judges:
            fn_args.custom_config = dict(fn_args.custom_config or {})
            fn_args.custom_config[JUDGE_MODEL_CONFIG_KEY] = path_utils.serving_model_path(judges[0].uri)
        return fn_args


class GanTrainer(base_component.BaseComponent):
    """Trainer(examples, transform_graph, run_fn, train_args, eval_args, custom_config, base_model) + judge."""

    SPEC_CLASS = GanTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(GanTrainerExecutor)

    def __init__(
        self,
        examples,
        run_fn: str,
        transform_graph=None,
        base_model=None,
        judge=None,
        train_args: Optional[trainer_pb2.TrainArgs] = None,
        eval_args: Optional[trainer_pb2.EvalArgs] = None,
        custom_config: Optional[Dict[str, Any]] = None,
    ):
        spec = GanTrainerSpec(
            examples=examples,
            transform_graph=transform_graph,
            base_model=base_model,
            judge=judge,
            train_args=train_args or trainer_pb2.TrainArgs(),
            eval_args=eval_args or trainer_pb2.EvalArgs(),
            run_fn=run_fn,
            custom_config=json_utils.dumps(custom_config),
            model=channel.Channel(type=standard_artifacts.Model),
            model_run=channel.Channel(type=standard_artifacts.ModelRun),
        )
        super().__init__(spec=spec)
