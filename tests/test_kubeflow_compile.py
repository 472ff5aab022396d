"""The KFP v2 spec compiled from the same create_pipeline holds every component, the image, the GPU request
on the Trainer and the Beam args, and loads with the kfp SDK."""
import yaml

from pipeline.kubeflow_runner import compile_kubeflow
from pipeline.presets import get_preset

EXPECTED = ["CatalogExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomalyGate", "Transform",
            "JudgeTrainer", "LatestBlessedModelResolver", "Trainer", "GanEvaluator", "Pusher"]


def test_compiled_spec_has_every_component_image_gpu_and_beam_args(tmp_path):
    beam_args = ["--runner=DataflowRunner", "--project=my-project", "--region=europe-west4"]
    path = compile_kubeflow(str(tmp_path / "pipeline.yaml"), preset=get_preset("gpu"), image="example.com/vitrine:1.0",
                            pipeline_root="gs://bucket/root", catalog_dir="gs://bucket/catalog",
                            serving_model_dir="gs://bucket/serving/vitrine", beam_pipeline_args=beam_args)
    spec = yaml.safe_load(open(path))
    tasks = spec["root"]["dag"]["tasks"]
    for component in EXPECTED:
        # a Resolver compiles into one task per resolved channel: "<id>-model-resolver", ...
        assert any(name.lower().split("-")[0] == component.lower() for name in tasks), \
            f"{component} missing from {sorted(tasks)}"
    executors = spec["deploymentSpec"]["executors"]
    containers = {name: e["container"] for name, e in executors.items() if "container" in e}
    assert containers and all(c["image"] == "example.com/vitrine:1.0" for c in containers.values())
    trainer = next(c for name, c in containers.items() if name.lower().startswith("trainer"))
    assert trainer["resources"]["accelerator"]["count"] in ("1", 1)
    # the GAN Trainer consumes JudgeTrainer's model (judge monitor, early stop)
    trainer_task = tasks["Trainer"]
    assert trainer_task["inputs"]["artifacts"]["judge"]["taskOutputArtifact"]["producerTask"] == "JudgeTrainer"
    example_gen = next(c for name, c in containers.items() if "examplegen" in name.lower())
    args = " ".join(example_gen.get("args", []))
    assert all(a in args for a in beam_args)
    # entry points are import paths the image can resolve, never __main__
    text = open(path).read()
    assert "__main__" not in text
    assert "models.training.run_fn" in text and "models.preprocessing.preprocessing_fn" in text


def test_spec_loads_with_kfp_sdk(tmp_path):
    from kfp import components
    from kfp.pipeline_spec import pipeline_spec_pb2

    path = compile_kubeflow(str(tmp_path / "p.yaml"), preset=get_preset("tiny"), image="vitrine:test",
                            pipeline_root="gs://b/r", catalog_dir="gs://b/c", serving_model_dir="gs://b/s")
    loaded = components.load_component_from_file(path)
    assert isinstance(loaded.pipeline_spec, pipeline_spec_pb2.PipelineSpec)
    assert loaded.pipeline_spec.pipeline_info.name == "vitrine"
