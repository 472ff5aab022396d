"""GanEvaluator: the TFX component that blesses or rejects a candidate model.

Inputs: the candidate model, the judge, Transform's examples and graph, and optionally the last blessed model
(Resolver + LatestBlessedModelStrategy) as baseline. Outputs a standard `ModelBlessing` (custom property
`blessed` and a `BLESSED`/`NOT_BLESSED` file, so the stock Pusher works) and a `ModelEvaluation` holding
`metrics.json`, `report.html` and `summary.png`.
"""
import json
import logging
import os

import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model, ModelBlessing, ModelEvaluation, TransformGraph
from tfx.utils import path_utils

log = logging.getLogger("vitrine.evaluator")


def _serving_dir(model_artifact) -> str:
    return path_utils.serving_model_path(model_artifact.uri)


def run_evaluation(model_dir, judge_dir, examples_uri, transform_graph_uri, output_dir, config: dict,
                   baseline_dir=None) -> dict:
    """Evaluates, decides, writes the report; returns {"blessed", "reasons", "metrics", "baseline", "report"}."""
    from components import eval_report
    from components.gan_evaluation import Judge, evaluate_model_draws, prepare_real, vocabularies
    from models.judge import JUDGE_SUMMARY

    attributes = list(config["condition_attributes"])
    resolution = int(config["resolution"])
    with tf.io.gfile.GFile(os.path.join(judge_dir, JUDGE_SUMMARY)) as f:
        judge_summary = json.load(f)
    judge = Judge(judge_dir)
    vocab = vocabularies(transform_graph_uri, attributes)
    real = prepare_real(judge, examples_uri, resolution, attributes, judge_summary,
                        floor_sample_size=int(config["num_samples"]))
    draws = int(config.get("draws", 1))
    log.info("Evaluating candidate %s on %d generated images and %d edits, %d draw(s)", model_dir,
             config["num_samples"], config["num_edits"], draws)
    candidate = evaluate_model_draws(model_dir, judge, real, vocab, attributes, config["num_samples"],
                                     config["num_edits"], draws)
    baseline_metrics = compared = scope = None
    if baseline_dir:
        baseline_metrics, compared, scope = _evaluate_baseline(baseline_dir, model_dir, judge, real, vocab,
                                                               attributes, config, draws)
    metrics = candidate["metrics"]
    for a in attributes:
        metrics[f"{a}_real_accuracy"] = {"value": real["eval_accuracy"][a], "higher_is_better": True,
                                         "gated": False, "note": "judge on real eval images (reference)"}
    blessed, reasons = eval_report.evaluate_thresholds(metrics, config.get("thresholds", {}), baseline_metrics,
                                                       config.get("baseline_tolerance", 0.1), compared=compared)
    extras = candidate["extras"]
    grids = {
        "Generated (rows: requested condition)": _generated_grid(extras, vocab, attributes),
        "Edits (left: source, right: edited)": _edit_grid(extras, attributes),
    }
    if "background_cleaned" in extras:
        grids["Background clean-up (left: cluttered input, right: background 'white')"] = _edit_grid(
            {"edit_sources": extras["background_inputs"], "edited": extras["background_cleaned"]}, attributes)
    report = eval_report.write_report(output_dir, metrics, config.get("thresholds", {}), baseline_metrics, blessed,
                                      reasons, grids, extras["confusion"],
                                      tolerance=config.get("baseline_tolerance", 0.1),
                                      training=_training_summary(model_dir), compared=compared, scope=scope)
    verdict = "BLESSED" if blessed else "NOT BLESSED"
    log.info("Evaluation: %s%s", verdict, "" if blessed else " — " + "; ".join(reasons))
    for name, entry in sorted(metrics.items()):
        log.info("  %-32s %.4f", name, entry["value"])
    log.info("Evaluation report: %s", report)
    return {"blessed": blessed, "reasons": reasons, "metrics": metrics, "baseline": baseline_metrics,
            "compared": compared, "baseline_scope": scope, "report": report}


def _evaluate_baseline(baseline_dir, model_dir, judge, real, vocab, attributes, config, draws):
    """(baseline metrics, the candidate's metrics to compare them with or None, scope or None).

    A baseline that lacks values this catalog has (a new article type was accepted since it was trained) cannot
    be asked for them: then both models are scored again, with the same seeds, on the eval images whose values
    the baseline knows, and the regression gate compares those two; the absolute bars still read the candidate
    on every eval image. `scope` says what was left out."""
    from components.gan_evaluation import evaluate_model_draws, known_values, restrict_real
    from models.warm_start_vocab import base_vocabularies

    baseline_vocab = base_vocabularies(baseline_dir, attributes)
    allowed = known_values(vocab, baseline_vocab) if baseline_vocab else None
    if allowed is None:
        log.info("Evaluating baseline (last blessed model) %s with the same seeds", baseline_dir)
        return evaluate_model_draws(baseline_dir, judge, real, vocab, attributes, config["num_samples"],
                                    config["num_edits"], draws)["metrics"], None, None
    lacks = {a: [v for v in vocab[a] if v not in set(baseline_vocab[a])] for a in attributes}
    shared = restrict_real(real, allowed)
    scope = {
        "values_the_baseline_lacks": {a: v for a, v in lacks.items() if v},
        "eval_images": int(len(shared["eval_images"])),
        "eval_images_all": int(len(real["eval_images"])),
        "fid_floor": shared["fid_floor"],
    }
    log.info("The baseline %s does not know %s: candidate and baseline are compared on the %d of %d eval images "
             "whose values it knows", baseline_dir,
             "; ".join(f"{a} {', '.join(v)}" for a, v in scope["values_the_baseline_lacks"].items()),
             scope["eval_images"], scope["eval_images_all"])
    args = (judge, shared, vocab, attributes, config["num_samples"], config["num_edits"], draws)
    baseline_metrics = evaluate_model_draws(baseline_dir, *args, allowed=allowed)["metrics"]
    compared = evaluate_model_draws(model_dir, *args, allowed=allowed)["metrics"]
    return baseline_metrics, compared, scope


def _training_summary(model_dir: str):
    from models.training import TRAINING_SUMMARY

    path = os.path.join(model_dir, TRAINING_SUMMARY)
    if not tf.io.gfile.exists(path):
        log.warning("No training summary at %s: the report will not show how the model was trained", path)
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _generated_grid(extras, vocab, attributes, per_row: int = 8):
    import numpy as np

    first = attributes[0]
    rows = []
    for value_id in sorted(set(extras["requested"][first].tolist()))[:10]:
        idx = np.where(extras["requested"][first] == value_id)[0][:per_row]
        row = extras["generated"][idx]
        if len(row) < per_row:
            row = np.concatenate([row, np.full((per_row - len(row),) + row.shape[1:], 255, np.uint8)])
        rows.append(np.concatenate(list(row), axis=1))
    return np.concatenate(rows, axis=0)


def _edit_grid(extras, attributes, count: int = 12):
    import numpy as np

    pairs = [np.concatenate([s, e], axis=1) for s, e in zip(extras["edit_sources"][:count], extras["edited"][:count])]
    return np.concatenate(pairs, axis=0)


@component
def GanEvaluator(
    model: InputArtifact[Model],
    judge: InputArtifact[Model],
    examples: InputArtifact[Examples],
    transform_graph: InputArtifact[TransformGraph],
    blessing: OutputArtifact[ModelBlessing],
    evaluation: OutputArtifact[ModelEvaluation],
    baseline_model: InputArtifact[Model] = None,
    config_json: Parameter[str] = "{}",
):
    config = json.loads(config_json)
    result = run_evaluation(
        _serving_dir(model), _serving_dir(judge), examples.uri, transform_graph.uri, evaluation.uri, config,
        baseline_dir=_serving_dir(baseline_model) if baseline_model is not None else None,
    )
    blessing.set_int_custom_property("blessed", 1 if result["blessed"] else 0)
    blessing.set_string_custom_property("current_model", model.uri)
    # LatestBlessedModelStrategy matches blessings to models by this id: without it the resolver finds no
    # blessed model, so neither warm start nor the baseline comparison ever happens.
    blessing.set_int_custom_property("current_model_id", model.id)
    if baseline_model is not None:
        blessing.set_int_custom_property("baseline_model_id", baseline_model.id)
    blessing.set_string_custom_property("reasons", "; ".join(result["reasons"]))
    blessing.set_string_custom_property("report", result["report"])
    evaluation.set_string_custom_property("report", result["report"])
    for name, entry in result["metrics"].items():
        evaluation.set_float_custom_property(name, float(entry["value"]))
    with tf.io.gfile.GFile(os.path.join(blessing.uri, "BLESSED" if result["blessed"] else "NOT_BLESSED"), "w") as f:
        f.write("\n".join(result["reasons"]))
