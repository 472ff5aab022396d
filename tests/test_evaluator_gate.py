"""The evaluator as a release gate (issue 4): on the tiny run's real artifacts, a generator that ignores its
condition is rejected by the real GanEvaluator and the stock Pusher pushes nothing; the trained tiny model meets its
preset's bars; a candidate that regressed against the baseline is rejected even when no absolute bar catches it.
"""
import glob
import json
import os

import pytest

pytestmark = pytest.mark.slow

ATTRIBUTES = ("articleType", "baseColour")


def _one(pattern: str) -> str:
    found = sorted(glob.glob(pattern))
    assert len(found) == 1, f"expected one artifact at {pattern}, found {found}"
    return found[0]


def _artifacts(paths) -> dict:
    """URIs of the tiny run's artifacts (one run, so one of each)."""
    root = paths["pipeline_root"]
    return {
        "examples": _one(os.path.join(root, "Transform", "transformed_examples", "*")),
        "transform_graph": _one(os.path.join(root, "Transform", "transform_graph", "*")),
        "judge": os.path.dirname(_one(os.path.join(root, "JudgeTrainer", "model", "*", "Format-Serving"))),
        "model": os.path.dirname(_one(os.path.join(root, "Trainer", "model", "*", "Format-Serving"))),
    }


def _vocabulary_files(transform_graph_uri):
    return {a: os.path.join(transform_graph_uri, "transform_fn", "assets", a) for a in ATTRIBUTES}


def _vocab_sizes(vocabulary_files):
    from models.export import read_vocabulary
    return {a: len(read_vocabulary(p)) for a, p in vocabulary_files.items()}


def _eval_config(preset, **changes) -> dict:
    config = dict(preset.evaluator_config(), condition_attributes=list(ATTRIBUTES))
    config.update(changes)
    return config


def _mlmd_artifacts(metadata_path, type_name):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config).get_artifacts_by_type(type_name)


def _prop(artifact, name):
    value = artifact.custom_properties[name]
    return getattr(value, value.WhichOneof("value"))


@pytest.mark.parametrize("kind", ["noise", "gray"])
def test_condition_blind_generator_is_not_blessed_and_not_pushed(tiny_run, tmp_path, kind):
    """Real GanEvaluator + stock Pusher on Importer inputs: a generator of noise (or constant gray) that ignores
    its condition is rejected, the reasons name the failed metrics, and nothing is pushed."""
    from tfx.components.pusher.component import Pusher
    from tfx.dsl.components.common.importer import Importer
    from tfx.orchestration import metadata
    from tfx.orchestration import pipeline as tfx_pipeline
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from tfx.proto import pusher_pb2
    from tfx.types.standard_artifacts import Examples, Model, TransformGraph

    from components.gan_evaluator import GanEvaluator
    from models.reference_generators import KINDS, condition_blind_generator, export_model, load_trained_network
    from pipeline.presets import get_preset

    paths, _, _ = tiny_run
    art = _artifacts(paths)
    preset = get_preset("tiny")
    cfg = preset.model
    vocabulary_files = _vocabulary_files(art["transform_graph"])
    sizes = _vocab_sizes(vocabulary_files)
    generator = condition_blind_generator(cfg, sizes, scale=KINDS[kind])
    noise_uri = export_model(str(tmp_path / "noise_model"), generator,
                             load_trained_network(cfg, sizes, art["model"], "editor"), cfg, vocabulary_files)

    candidate = Importer(source_uri=noise_uri, artifact_type=Model).with_id("import_noise_model")
    judge = Importer(source_uri=art["judge"], artifact_type=Model).with_id("import_judge")
    examples = Importer(source_uri=art["examples"], artifact_type=Examples,
                        properties={"split_names": json.dumps(["train", "eval"])}).with_id("import_examples")
    graph = Importer(source_uri=art["transform_graph"], artifact_type=TransformGraph).with_id("import_graph")
    evaluator = GanEvaluator(
        model=candidate.outputs["result"], judge=judge.outputs["result"], examples=examples.outputs["result"],
        transform_graph=graph.outputs["result"], config_json=json.dumps(_eval_config(preset)))
    serving_dir = tmp_path / "serving_model" / "vitrine"
    pusher = Pusher(
        model=candidate.outputs["result"], model_blessing=evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(serving_dir))))
    metadata_path = str(tmp_path / "metadata.sqlite")
    LocalDagRunner().run(tfx_pipeline.Pipeline(
        pipeline_name="noise_gate", pipeline_root=str(tmp_path / "root"),
        components=[candidate, judge, examples, graph, evaluator, pusher], enable_cache=False,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path)))

    blessings = _mlmd_artifacts(metadata_path, "ModelBlessing")
    evaluations = _mlmd_artifacts(metadata_path, "ModelEvaluation")
    pushed = _mlmd_artifacts(metadata_path, "PushedModel")
    assert len(blessings) == len(evaluations) == len(pushed) == 1
    blessing, evaluation, pushed = blessings[0], evaluations[0], pushed[0]
    metrics = {k: v.double_value for k, v in evaluation.custom_properties.items()
               if v.WhichOneof("value") == "double_value"}
    print(f"{kind} model metrics:", json.dumps(metrics, indent=1, sort_keys=True))
    reasons = _prop(blessing, "reasons")
    print(f"{kind} model reasons:", reasons)

    assert _prop(blessing, "blessed") == 0, f"{kind} generator was blessed; metrics {metrics}"
    assert os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert not os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    with open(os.path.join(blessing.uri, "NOT_BLESSED")) as f:
        not_blessed_text = f.read()
    failed = [name for name, bar in preset.thresholds.items()
              if ("max" in bar and not metrics[name] <= bar["max"]) or ("min" in bar and not metrics[name] >= bar["min"])]
    assert failed, f"no threshold failed, yet not blessed: {reasons}"
    for name in failed:
        assert name in reasons, f"reasons do not name the failed metric {name}: {reasons}"
        assert name in not_blessed_text
    # The stock Pusher honoured the blessing: nothing pushed, nothing written.
    assert _prop(pushed, "pushed") == 0
    versions = [d for d in os.listdir(serving_dir)] if serving_dir.exists() else []
    assert versions == [], f"Pusher wrote {versions} for a rejected model"


def test_trained_tiny_model_passes_its_thresholds(tiny_run):
    from components.eval_report import check_thresholds
    from pipeline.presets import get_preset

    _, run, _ = tiny_run
    thresholds = get_preset("tiny").thresholds
    print("tiny model metrics:", json.dumps(run.metrics, indent=1, sort_keys=True))
    assert run.blessed, run.reasons
    assert thresholds, "the tiny preset gates on nothing"
    for name, bar in thresholds.items():
        assert name in run.metrics, f"{name} not recorded"
        assert check_thresholds(name, {"value": run.metrics[name]}, bar) == [], (name, run.metrics[name], bar)
    assert run.pushed_version is not None


def test_every_preset_gates_on_metrics_the_evaluator_records(tiny_run):
    """A threshold naming a metric the evaluator does not produce rejects every model: catch typos here."""
    from pipeline.presets import PRESETS

    _, run, _ = tiny_run
    for preset in PRESETS.values():
        unknown = sorted(set(preset.thresholds) - set(run.metrics))
        assert not unknown, f"preset {preset.name} gates on {unknown}, not recorded (have {sorted(run.metrics)})"


def test_regression_against_baseline_is_not_blessed(tiny_run, tmp_path):
    """Candidate = the trained generator half-drowned in noise; no absolute bar; baseline = the trained model."""
    import keras
    from keras import layers

    from components.gan_evaluator import run_evaluation
    from models.reference_generators import condition_blind_generator, export_model, load_trained_network
    from pipeline.presets import get_preset

    paths, _, _ = tiny_run
    art = _artifacts(paths)
    preset = get_preset("tiny")
    cfg = preset.model
    vocabulary_files = _vocabulary_files(art["transform_graph"])
    sizes = _vocab_sizes(vocabulary_files)
    trained = load_trained_network(cfg, sizes, art["model"], "ema_generator")
    noise = condition_blind_generator(cfg, sizes)
    inputs = {"z": keras.Input((cfg.z_dim,), name="z"), **{a: keras.Input((v,), name=a) for a, v in sizes.items()}}
    degraded = keras.Model(inputs, layers.Average()([trained(inputs), noise(inputs)]), name="degraded")
    degraded_uri = export_model(str(tmp_path / "degraded"), degraded,
                                load_trained_network(cfg, sizes, art["model"], "editor"), cfg, vocabulary_files)

    result = run_evaluation(
        os.path.join(degraded_uri, "Format-Serving"), os.path.join(art["judge"], "Format-Serving"),
        art["examples"], art["transform_graph"], str(tmp_path / "evaluation"),
        _eval_config(preset, thresholds={}),
        baseline_dir=os.path.join(art["model"], "Format-Serving"))
    summary = {k: (v["value"], (result["baseline"] or {}).get(k, {}).get("value")) for k, v in result["metrics"].items()}
    print("degraded vs baseline:", json.dumps(summary, indent=1, sort_keys=True))
    print("reasons:", result["reasons"])
    assert result["baseline"] is not None
    assert not result["blessed"]
    assert result["reasons"] and all("regressed" in r for r in result["reasons"]), result["reasons"]
    assert any(r.startswith("fid_") or r.startswith("kid_") for r in result["reasons"]), result["reasons"]
    assert os.path.exists(result["report"])


def test_evaluator_draws_average_real_evaluations_of_the_tiny_model(tiny_run):
    """eval_draws > 1: each metric is the mean of that many seeded single-draw evaluations, the first of which is
    the single-draw evaluator's own; the draws differ, or the average would prove nothing."""
    import numpy as np

    from components.gan_evaluation import (Judge, evaluate_model, evaluate_model_draws, evaluator_seeds,
                                           prepare_real, vocabularies)
    from models.judge import JUDGE_SUMMARY
    from pipeline.presets import get_preset

    paths, _, _ = tiny_run
    art = _artifacts(paths)
    config = _eval_config(get_preset("tiny"))
    judge_dir = os.path.join(art["judge"], "Format-Serving")
    with open(os.path.join(judge_dir, JUDGE_SUMMARY)) as f:
        judge_summary = json.load(f)
    judge = Judge(judge_dir)
    n, edits = config["num_samples"], config["num_edits"]
    real = prepare_real(judge, art["examples"], config["resolution"], list(ATTRIBUTES), judge_summary,
                        floor_sample_size=n)
    vocab = vocabularies(art["transform_graph"], list(ATTRIBUTES))
    model = os.path.join(art["model"], "Format-Serving")
    args = (judge, real, vocab, list(ATTRIBUTES), n, edits)
    singles = [evaluate_model(model, *args, seed=seed)["metrics"] for seed in evaluator_seeds(3)]
    averaged = evaluate_model_draws(model, *args, draws=3)["metrics"]
    assert len({m["fid_judge"]["value"] for m in singles}) == 3, "the draws did not differ"
    for name in ("fid_judge", "fid_ratio", "articleType_control_accuracy", "edit_success"):
        values = [m[name]["value"] for m in singles]
        assert averaged[name]["value"] == pytest.approx(np.mean(values)), name
        if len(set(values)) > 1:
            assert averaged[name]["draws"] == pytest.approx(values)
            assert averaged[name]["ci"][0] <= averaged[name]["value"] <= averaged[name]["ci"][1]
    one = evaluate_model_draws(model, *args, draws=1)["metrics"]
    assert one["fid_judge"]["value"] == singles[0]["fid_judge"]["value"] and "draws" not in one["fid_judge"]
