"""The judge-check charts in the evaluation report (components/training_curves.py): well-formed SVG whose points
sit where their values say, gaps where a check has no value, and the exported checks marked."""
import math
import xml.etree.ElementTree as ET

import pytest

from components import eval_report
from components import training_curves as tc

NS = "{http://www.w3.org/2000/svg}"


def _checks():
    return [{"step": 100, "articleType_control_accuracy": 0.0, "baseColour_control_accuracy": 0.3, "fid": 20.0,
             "fid_heldout": 24.0, "edit_success": 0.1, "judge_score": 0.15},
            {"step": 200, "articleType_control_accuracy": 0.5, "baseColour_control_accuracy": float("nan"),
             "fid": 10.0, "fid_heldout": 8.0, "edit_success": 0.4, "judge_score": 0.45},
            {"step": 300, "articleType_control_accuracy": 0.6, "baseColour_control_accuracy": 0.7, "fid": 5.0,
             "fid_heldout": 6.0, "edit_success": 0.5, "judge_score": 0.55},
            {"step": 500, "articleType_control_accuracy": 1.0, "baseColour_control_accuracy": 0.8, "fid": 4.0,
             "fid_heldout": 7.0, "edit_success": 0.6, "judge_score": 0.8}]


def _points(svg, key):
    root = ET.fromstring(svg)
    runs = []
    for el in root.iter():
        if el.get("data-key") != key:
            continue
        if el.tag == NS + "polyline":
            runs.append([tuple(float(c) for c in p.split(",")) for p in el.get("points").split()])
        elif el.tag == NS + "circle":
            runs.append([(float(el.get("cx")), float(el.get("cy")))])
    return runs


def test_scores_sit_where_their_values_say():
    checks = _checks()
    svg = tc.chart_svg(checks, tc.score_keys(checks), "scores", y_range=(0.0, 1.0), percent=True)
    (line,) = _points(svg, "articleType_control_accuracy")
    assert len(line) == len(checks)
    bottom, right = tc.HEIGHT - tc.BOTTOM, tc.WIDTH - tc.RIGHT
    assert line[0] == pytest.approx((tc.LEFT, bottom))  # 0 % at the first step: bottom left
    assert line[-1] == pytest.approx((right, tc.TOP))  # 100 % at the last step: top right
    assert line[1][1] == pytest.approx((tc.TOP + bottom) / 2)  # 50 % halfway up
    # steps are spaced by their value, not by their index (the last check is 200 steps on, not 100)
    assert line[3][0] - line[2][0] == pytest.approx(2 * (line[2][0] - line[1][0]))
    labels = [el.text for el in ET.fromstring(svg).iter(NS + "text") if el.get("class") == "ylabel"]
    assert labels == ["0%", "20%", "40%", "60%", "80%", "100%"]
    assert [el.text for el in ET.fromstring(svg).iter(NS + "text") if el.get("class") == "xlabel"] == \
        ["100", "200", "300", "400", "500"]


def test_a_missing_value_breaks_the_line_and_an_empty_series_is_left_out():
    checks = _checks()
    svg = tc.chart_svg(checks, tc.score_keys(checks), "scores", y_range=(0.0, 1.0))
    runs = _points(svg, "baseColour_control_accuracy")
    assert [len(r) for r in runs] == [1, 2]  # step 100 alone (a dot), then steps 300-500
    for check in checks:
        check["edit_success"] = None
    svg = tc.chart_svg(checks, tc.score_keys(checks), "scores", y_range=(0.0, 1.0))
    assert _points(svg, "edit_success") == [] and "edit success" not in svg
    assert tc.chart_svg(checks, ["edit_success"], "none") == ""


def test_fid_uses_a_log_axis_on_whole_ticks():
    checks = _checks()
    svg = tc.chart_svg(checks, tc.FID_KEYS, "fid", log=True)
    labels = [el.text for el in ET.fromstring(svg).iter(NS + "text") if el.get("class") == "ylabel"]
    assert labels == ["2", "5", "10", "20", "50"]  # from the 1-2-5 tick below the lowest FID to the one above
    (line,) = _points(svg, "fid")
    top, bottom = tc.TOP, tc.HEIGHT - tc.BOTTOM
    y = lambda v: top + (math.log10(50) - math.log10(v)) / (math.log10(50) - math.log10(2)) * (bottom - top)
    assert [p[1] for p in line] == pytest.approx([y(20), y(10), y(5), y(4)], abs=0.06)  # drawn to 0.1 px
    assert tc.linear_ticks(0.13, 0.87) == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert tc.linear_ticks(100, 7700) == [2000, 4000, 6000]
    assert tc.tick_below(3.7) == 2 and tc.tick_above(3.7) == 5 and tc.tick_above(10) == 10
    assert tc.log_ticks(0.02, 0.5) == pytest.approx([0.02, 0.05, 0.1, 0.2, 0.5])


def test_the_exported_checks_are_marked():
    checks = _checks()
    svg = tc.chart_svg(checks, ["fid"], "fid", best={"generator": 300, "editor": 500}, log=True)
    marks = {el.get("data-side"): float(el.get("x1")) for el in ET.fromstring(svg).iter(NS + "line")
             if el.get("class") == "best"}
    (line,) = _points(svg, "fid")
    assert marks == pytest.approx({"generator": line[2][0], "editor": line[3][0]})
    # labels stay inside the chart: the last step's is drawn leftwards from its line, an early one rightwards
    svg = tc.chart_svg(checks, ["fid"], "fid", best={"generator": 100, "editor": 500}, log=True)
    labels = {el.text.split()[0]: (float(el.get("x")), el.get("text-anchor"))
              for el in ET.fromstring(svg).iter(NS + "text") if el.get("class") == "best-label"}
    assert labels == {"generator": (pytest.approx(tc.LEFT + 3, abs=0.06), "start"),
                      "editor": (pytest.approx(tc.WIDTH - tc.RIGHT - 3, abs=0.06), "end")}


def test_the_report_draws_both_panels_above_the_table(tmp_path):
    checks = _checks()
    training = {"steps": 500, "planned_steps": 500, "train_seconds": 60.0, "images_per_second": 50.0,
                "judge_monitor": {"history": checks, "best": {"generator": 300, "editor": 500}}}
    page = open(eval_report.write_report(str(tmp_path / "a"), {}, {}, None, True, [], training=training),
                encoding="utf-8").read()
    section = page[page.index("<h2>Training</h2>"):]
    assert section.count("<svg") == 2 and section.index("</svg>") < section.index("<table>")
    for svg in section.split("<svg")[1:]:
        ET.fromstring("<svg" + svg[:svg.index("</svg>") + 6])  # each one well-formed on its own
    training["judge_monitor"]["history"] = checks[:1]  # one check: nothing to draw
    page = open(eval_report.write_report(str(tmp_path / "b"), {}, {}, None, True, [], training=training),
                encoding="utf-8").read()
    assert "<svg" not in page


def test_the_editors_warm_up_is_shaded_and_its_edit_checks_left_out():
    checks = _checks()  # steps 100, 200, 300, 500
    svg = tc.chart_svg(checks, tc.score_keys(checks), "scores", y_range=(0.0, 1.0), warmup=200)
    (band,) = [el for el in ET.fromstring(svg).iter(NS + "rect") if el.get("class") == "warmup"]
    (control,) = _points(svg, "articleType_control_accuracy")
    assert float(band.get("x")) == pytest.approx(control[0][0])  # from the first check ...
    assert float(band.get("x")) + float(band.get("width")) == pytest.approx(control[1][0])  # ... to step 200
    (edits,) = _points(svg, "edit_success")
    assert [x for x, _ in edits] == pytest.approx([control[2][0], control[3][0]])  # steps 300 and 500 only
    assert len(control) == 4  # the generator's checks all stay
    fid = tc.chart_svg(checks, tc.FID_KEYS, "fid", log=True, warmup=200)
    assert [len(run) for run in _points(fid, "fid")] == [4] and "class='warmup'" in fid
    # a warm-up that ends before the first check shades nothing; one that outlasts the run leaves no edit line
    assert "class='warmup'" not in tc.chart_svg(checks, ["fid"], "fid", log=True, warmup=50)
    assert _points(tc.chart_svg(checks, tc.score_keys(checks), "s", y_range=(0.0, 1.0), warmup=500),
                   "edit_success") == []


def test_the_report_says_how_long_the_editor_trained(tmp_path):
    checks = _checks()
    training = {"steps": 500, "planned_steps": 500, "train_seconds": 60.0, "images_per_second": 50.0,
                "config": {"editor_from_step": 200}, "editor_trained_steps": 300,
                "judge_monitor": {"history": checks, "best": {"generator": 300, "editor": 500}}}
    page = open(eval_report.write_report(str(tmp_path / "a"), {}, {}, None, True, [], training=training),
                encoding="utf-8").read()
    assert "G and D trained alone until step 200" in page and "the editor trained 300 steps" in page
    assert page.count("(editor warm-up)") == 2  # the table's rows for steps 100 and 200
    assert page.count("class='warmup'") == 2  # both panels
    training["config"]["editor_from_step"] = 0
    page = open(eval_report.write_report(str(tmp_path / "b"), {}, {}, None, True, [], training=training),
                encoding="utf-8").read()
    assert "warm-up" not in page


def test_a_warm_started_runs_check_at_step_0_is_not_the_editors_warm_up():
    """Step 0 is only ever checked by a warm-started run, of the base model's trained editor: its edit checks stay."""
    assert not tc.in_warmup(0, 300) and tc.in_warmup(1, 300) and tc.in_warmup(300, 300) and not tc.in_warmup(301, 300)
