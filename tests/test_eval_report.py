"""Blessing logic and the evaluation report files."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from components import eval_report

METRICS = {
    "fid_judge": {"value": 20.0, "ci": [18.0, 22.0], "higher_is_better": False},
    "baseColour_control_accuracy": {"value": 0.80, "ci": [0.75, 0.85], "higher_is_better": True},
    "diversity": {"value": 1.5, "higher_is_better": True, "note": "real eval images: 1.7"},
    "fid_floor": {"value": 3.0, "higher_is_better": False, "gated": False},
}
THRESHOLDS = {"fid_judge": {"max": 40.0}, "baseColour_control_accuracy": {"min": 0.6}}


def _with(name, value, metrics=METRICS):
    changed = {k: dict(v) for k, v in metrics.items()}
    changed[name]["value"] = value
    return changed


def test_blesses_when_all_pass():
    baseline = _with("fid_judge", 21.0)
    assert eval_report.evaluate_thresholds(METRICS, THRESHOLDS, baseline, tolerance=0.1) == (True, [])
    assert eval_report.evaluate_thresholds(METRICS, THRESHOLDS, None) == (True, [])


def test_rejects_metric_below_min():
    blessed, reasons = eval_report.evaluate_thresholds(_with("baseColour_control_accuracy", 0.5), THRESHOLDS, None)
    assert not blessed
    assert len(reasons) == 1 and "baseColour_control_accuracy" in reasons[0]
    assert "0.5000" in reasons[0] and "minimum 0.6000" in reasons[0]


def test_rejects_metric_above_max_and_nan_and_missing():
    blessed, reasons = eval_report.evaluate_thresholds(_with("fid_judge", 50.0), THRESHOLDS, None)
    assert not blessed and "fid_judge = 50.0000 is above the maximum 40.0000" in reasons[0]
    assert not eval_report.evaluate_thresholds(_with("fid_judge", float("nan")), THRESHOLDS, None)[0]
    blessed, reasons = eval_report.evaluate_thresholds(METRICS, {"kid_judge": {"max": 0.1}}, None)
    assert not blessed and "kid_judge" in reasons[0]


def test_rejects_regression_beyond_tolerance_even_when_absolute_thresholds_pass():
    # fid 20 vs baseline 15: allowed up to 16.5 at 10 %; the absolute max of 40 holds.
    blessed, reasons = eval_report.evaluate_thresholds(METRICS, THRESHOLDS, _with("fid_judge", 15.0), tolerance=0.1)
    assert not blessed and len(reasons) == 1
    assert "fid_judge" in reasons[0] and "baseline 15.0000" in reasons[0] and "16.5000" in reasons[0]
    # Higher-is-better: accuracy 0.80 vs baseline 0.95 -> allowed 0.855.
    blessed, reasons = eval_report.evaluate_thresholds(
        METRICS, THRESHOLDS, _with("baseColour_control_accuracy", 0.95), tolerance=0.1)
    assert not blessed and "baseColour_control_accuracy" in reasons[0] and "below the baseline" in reasons[0]
    # Within tolerance: 20 vs 19 (allowed 20.9).
    assert eval_report.evaluate_thresholds(METRICS, THRESHOLDS, _with("fid_judge", 19.0), tolerance=0.1)[0]
    # A per-metric tolerance overrides the global one.
    loose = dict(THRESHOLDS, fid_judge={"max": 40.0, "tolerance": 0.5})
    assert eval_report.evaluate_thresholds(METRICS, loose, _with("fid_judge", 15.0), tolerance=0.1)[0]


def test_a_baseline_that_knows_fewer_values_is_compared_on_those(tmp_path):
    """A catalog that gained a value: the gate compares the candidate's metrics on the values the baseline knows
    (`compared`), while the absolute bars still read the candidate on everything."""
    baseline = _with("fid_judge", 15.0)
    compared = _with("fid_judge", 15.5)  # on the shared values the candidate holds the baseline's level
    assert not eval_report.evaluate_thresholds(METRICS, THRESHOLDS, baseline, tolerance=0.1)[0]
    blessed, reasons = eval_report.evaluate_thresholds(METRICS, THRESHOLDS, baseline, tolerance=0.1,
                                                       compared=compared)
    assert blessed, reasons
    blessed, reasons = eval_report.evaluate_thresholds(METRICS, THRESHOLDS, baseline, tolerance=0.1,
                                                       compared=_with("fid_judge", 17.0))
    assert not blessed and reasons[0].endswith("(on the values the baseline knows)")
    # ... and a bar the candidate misses on every image still rejects it
    assert not eval_report.evaluate_thresholds(_with("fid_judge", 41.0), THRESHOLDS, baseline, tolerance=0.1,
                                               compared=compared)[0]
    scope = {"values_the_baseline_lacks": {"articleType": ["Sunglasses"]}, "eval_images": 90,
             "eval_images_all": 100, "fid_floor": 2.5}
    path = eval_report.write_report(str(tmp_path), METRICS, THRESHOLDS, baseline, True, [], {}, {},
                                    compared=compared, scope=scope)
    page = open(path, encoding="utf-8").read()
    assert "articleType: Sunglasses" in page and "90 of 100 eval images" in page
    assert "on the baseline&#39;s values" in page and "15.5000" in page and "+0.5000" in page
    saved = json.load(open(os.path.join(tmp_path, "metrics.json")))
    assert saved["baseline_scope"]["eval_images"] == 90 and saved["compared"]["fid_judge"]["value"] == 15.5


def test_ungated_metric_is_not_compared_to_baseline():
    assert eval_report.evaluate_thresholds(METRICS, THRESHOLDS, _with("fid_floor", 1.0), tolerance=0.1)[0]


def _grid(height=96, width=192):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 128)], axis=-1).astype(np.uint8)


def test_write_report_files(tmp_path):
    baseline = _with("fid_judge", 15.0)
    blessed, reasons = eval_report.evaluate_thresholds(METRICS, THRESHOLDS, baseline)
    confusion = {"baseColour": (np.array([[8, 2, 0], [1, 7, 2], [0, 0, 10]]), ["Red", "Blue", "Green"])}
    grids = {"Generated (rows: requested condition)": _grid(), "Edits (left: source, right: edited)": _grid(64, 128)}
    path = eval_report.write_report(str(tmp_path), METRICS, THRESHOLDS, baseline, blessed, reasons, grids, confusion)

    assert path == os.path.join(str(tmp_path), "report.html")
    page = open(path, encoding="utf-8").read()
    assert "NOT BLESSED" in page and reasons[0].split(" ")[0] in page
    for name in METRICS:
        assert name in page
    assert "Green" in page and "table class='confusion'" in page
    images = [f for f in os.listdir(tmp_path) if f.startswith("grid_") and f.endswith(".png")]
    assert len(images) == 2
    for image in images:
        assert f"src='{image}'" in page
        assert Image.open(tmp_path / image).size in {(192, 96), (128, 64)}
    summary = Image.open(tmp_path / "summary.png")
    assert summary.width >= 400 and summary.height >= 200
    saved = json.load(open(tmp_path / "metrics.json"))
    assert saved["blessed"] is False and saved["metrics"]["fid_judge"]["value"] == 20.0 and saved["reasons"] == reasons


def test_write_report_blessed_without_baseline_or_grids(tmp_path):
    metrics = _with("diversity", float("nan"))
    path = eval_report.write_report(str(tmp_path), metrics, THRESHOLDS, None, True, [], {}, {})
    page = open(path, encoding="utf-8").read()
    assert ">BLESSED<" in page and "NOT BLESSED" not in page
    assert json.load(open(tmp_path / "metrics.json"))["metrics"]["diversity"]["value"] is None
    assert (tmp_path / "summary.png").exists()


def test_report_shows_how_the_model_trained_and_the_judge_checks(tmp_path):
    checks = [{"step": step, "articleType_control_accuracy": acc, "edit_success": edit, "judge_score": score}
              for step, acc, edit, score in ((100, 0.2, 0.3, 0.25), (200, 0.5, 0.3, 0.4), (300, 0.45, 0.5, 0.475))]
    training = {"steps": 300, "planned_steps": 5000, "train_seconds": 120.0, "images_per_second": 80.0,
                "stopped_by_time_budget": True, "stopped_by_judge": False,
                "judge_monitor": {"history": checks, "best": {"generator": 200, "editor": 300}, "restored_best": True,
                                  "restored": {"generator": 200}, "samples_per_check": 256, "edits_per_check": 128}}
    path = eval_report.write_report(str(tmp_path), METRICS, THRESHOLDS, None, True, [], {}, {}, training=training)
    page = open(path, encoding="utf-8").read()
    section = page[page.index("<h2>Training</h2>"):]
    assert "stopped by: time budget" in section
    assert ("the generator's weights of step 200 (its best judge check) and the editor's last weights were exported"
            in section)
    assert "every 100 steps" in section and section.count("<tr") == 1 + len(checks)
    assert "200 (best generator)" in section and "300 (best editor)" in section and "100 (best" not in section
    assert "0.5000" in section
    assert "held out" not in section  # no holdout in this run
    # with held-out records the page says how many and which FID broke the generator's ties
    training["judge_monitor"].update(heldout_per_check=240, pick_fid="fid_heldout")
    page = open(eval_report.write_report(str(tmp_path / "held"), METRICS, THRESHOLDS, None, True, [], {}, {},
                                         training=training), encoding="utf-8").read()
    assert "240 training records held out of training" in page and "go to the lower held-out FID" in page
    assert "held-out record" not in page and "editor's best check" not in page  # edits picked as before
    # held-out edits in the checks, and the editor picked on both edit sets pooled
    for check in checks:
        check.update(edit_success_heldout=0.5, edit_success_all=0.5)
    training["judge_monitor"].update(pick_edit="edit_success_all")
    page = open(eval_report.write_report(str(tmp_path / "held_edits"), METRICS, THRESHOLDS, None, True, [], {}, {},
                                         training=training), encoding="utf-8").read()
    assert "one edit of each held-out record" in page and "both edit sets pooled" in page
    assert "identity collapse" not in page  # the editor edited throughout
    assert "were kept in" not in page and "Picking by" not in page  # nothing kept beside the picks
    # the last weights and an alternative pick kept beside the picks (session 50), one alternative the same
    training["judge_monitor"].update(unpicked_checkpoint="unpicked/step-00000300", alternatives={
        "judge_pick_edit=all": {"best": {"generator": 200, "editor": 100}, "differs": ["editor"],
                                "checkpoint": "picked_by/judge_pick_edit-all/step-00000300"},
        "judge_control_tolerance=0.04": {"best": {"generator": 200, "editor": 300}, "differs": [],
                                         "checkpoint": None}})
    page = open(eval_report.write_report(str(tmp_path / "kept"), METRICS, THRESHOLDS, None, True, [], {}, {},
                                         training=training), encoding="utf-8").read()
    assert "The last weights were kept in checkpoints/unpicked/step-00000300." in page
    assert ("Picking by judge_pick_edit=all would have exported the editor's weights of step 100 (kept in "
            "checkpoints/picked_by/judge_pick_edit-all/step-00000300).") in page
    assert "Picking by judge_control_tolerance=0.04 would have exported the same weights." in page
    del training["judge_monitor"]["unpicked_checkpoint"], training["judge_monitor"]["alternatives"]
    # an editor whose keep-mask saturated for a while gets a warning paragraph with the steps
    training["editor_watch"] = {"identity_steps": 800, "identity_stretches": [[101, 900]], "collapsed_at_end": False}
    page = open(eval_report.write_report(str(tmp_path / "collapsed"), METRICS, THRESHOLDS, None, True, [], {}, {},
                                         training=training), encoding="utf-8").read()
    assert "identity collapse) for 800 steps (steps 101-900)." in page and "still collapsed" not in page
    # a summary written before the two sides kept separate bests: one step for both
    training["judge_monitor"].update(best=checks[1], restored={})
    page = open(eval_report.write_report(str(tmp_path / "old"), METRICS, THRESHOLDS, None, True, [], {}, {},
                                         training=training), encoding="utf-8").read()
    assert "200 (best generator + editor)" in page and "the editor's weights of step 200" in page
    # a warm-started run (a scheduled retrain): its check at step 0 scores the base model, which a pick may keep
    training.update(warm_started=["generator", "ema_generator", "editor"], warm_start_from="serving/vitrine/7",
                    warm_start_network_steps={"generator": 4400, "editor": 6800})
    training["judge_monitor"].update(history=[dict(checks[0], step=0)] + checks, best={"generator": 0, "editor": 300},
                                     restored={"generator": 0})
    page = open(eval_report.write_report(str(tmp_path / "warm"), METRICS, THRESHOLDS, None, True, [], {}, {},
                                         training=training), encoding="utf-8").read()
    assert ("Warm-started from serving/vitrine/7 (generator, ema_generator, editor), carrying its step counts "
            "(generator 4400, editor 6800, model.warm_start_counts).") in page
    assert "the base model's generator (the check at step 0, before the first step: no later check beat it)" in page
    assert "0 (best generator) (the base model, before the first step)" in page
    training["warm_start_network_steps"] = None
    page = open(eval_report.write_report(str(tmp_path / "warm_afresh"), METRICS, THRESHOLDS, None, True, [], {}, {},
                                         training=training), encoding="utf-8").read()
    assert "(generator, ema_generator, editor), counting its steps afresh." in page
    # without a summary the section says so instead of disappearing
    page = open(eval_report.write_report(str(tmp_path / "none"), METRICS, THRESHOLDS, None, True, [], {}, {}),
                encoding="utf-8").read()
    assert "No training summary" in page


def test_write_report_rejects_float_grid(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        eval_report.write_report(str(tmp_path), METRICS, {}, None, True, [], {"g": np.zeros((4, 4, 3))}, {})
