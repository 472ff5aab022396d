"""Preset overrides from the command line (`--set KEY=VALUE`): model fields, preset fields and release bars."""
import re

import pytest

from pipeline.cli import _parse_overrides
from pipeline.presets import PRESETS, get_preset


def test_a_release_bar_can_be_set_or_dropped_without_touching_the_preset():
    before = {m: dict(b) for m, b in PRESETS["gpu"].thresholds.items()}
    relaxed = get_preset("gpu", _parse_overrides(["thresholds.fid_ratio.max=4", "thresholds.diversity.min=1.5"]))
    assert relaxed.thresholds["fid_ratio"] == {"max": 4.0}
    assert relaxed.thresholds["diversity"] == {"min": 1.5}
    assert relaxed.evaluator_config()["thresholds"] == relaxed.thresholds  # what the GanEvaluator is given
    dropped = get_preset("gpu", _parse_overrides(["thresholds.fid_ratio.max=off"]))
    assert "fid_ratio" not in dropped.thresholds
    assert dropped.thresholds["edit_success"] == {"min": 0.8}  # the other bars stay
    assert PRESETS["gpu"].thresholds == before  # the registry's preset is unchanged


def test_dropping_a_bound_keeps_the_metrics_other_settings():
    preset = get_preset("cpu-quick", {"thresholds.edit_success.tolerance": 0.05})
    assert preset.thresholds["edit_success"] == {"min": 0.15, "tolerance": 0.05}
    # the regression tolerance against the last blessed model still applies without the absolute bar
    preset = get_preset("cpu-quick", {"thresholds.edit_success.tolerance": 0.05, "thresholds.edit_success.min": "off"})
    assert preset.thresholds["edit_success"] == {"tolerance": 0.05}
    preset = get_preset("cpu-quick", {"thresholds.edit_success.min": "off"})
    assert "edit_success" not in preset.thresholds


@pytest.mark.parametrize("key, value, message", [
    ("thresholds.fid_ratio", 4, "thresholds.<metric>.<min|max|tolerance>"),
    ("thresholds.fid_ratio.maximum", 4, "thresholds.<metric>.<min|max|tolerance>"),
    ("thresholds.fid_ratio.max", "high", "expected a number"),
    ("model.trian_steps", 5, "ModelConfig has no field 'trian_steps'"),
    ("eval_samples", 5, "Preset has no field 'eval_samples'"),
    ("thresholds", "{}", "cannot be set from a string"),
    ("model", "tiny", "cannot be set from a string"),
])
def test_a_misspelt_override_is_a_clear_error(key, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        get_preset("gpu", {key: value})


def test_code_may_still_replace_the_whole_thresholds_dict():
    preset = get_preset("tiny", {"thresholds": {"fid_ratio": {"max": 1e6}}})
    assert preset.thresholds == {"fid_ratio": {"max": 1e6}}


def test_model_and_preset_fields_still_override():
    preset = get_preset("cpu-quick", _parse_overrides(["model.min_train_steps=0", "eval_num_samples=100"]))
    assert preset.model.min_train_steps == 0 and preset.eval_num_samples == 100
    assert PRESETS["cpu-quick"].model.min_train_steps == 1000


def test_the_evaluator_is_given_its_draws_and_cpu_quick_averages_five():
    """cpu-quick's N = 400 draw moves FID and edit success by more than levers do (session 57): it averages five."""
    assert PRESETS["cpu-quick"].evaluator_config()["draws"] == 5
    assert PRESETS["tiny"].evaluator_config()["draws"] == 1
    assert get_preset("cpu-quick", _parse_overrides(["eval_draws=1"])).evaluator_config()["draws"] == 1


def test_a_whole_number_for_a_float_field_arrives_as_a_float():
    """`--set model.ema_late_ramp=4` parses as the int 4; a TF op that picks between it and a float ramp refused
    int32 against float (session 54). Float fields get floats; int fields keep ints, bools stay bools."""
    model = get_preset("cpu-quick", _parse_overrides(["model.ema_late_ramp=4", "model.ema_ramp=10",
                                                      "model.ema_late_from_step=2000", "model.editor_ema=false"])).model
    assert type(model.ema_late_ramp) is float and model.ema_late_ramp == 4.0
    assert type(model.ema_ramp) is float and type(model.ema_late_from_step) is int and model.editor_ema is False


def test_the_cli_turns_a_bad_override_into_a_one_line_error():
    import argparse

    from pipeline.cli import preset_from_args

    with pytest.raises(SystemExit, match=r"^error: Unknown override 'model.trian_steps'"):
        preset_from_args(argparse.Namespace(preset="cpu-quick", set=["model.trian_steps=5"]))
    relaxed = preset_from_args(argparse.Namespace(preset="gpu", set=["thresholds.fid_ratio.max=4"]))
    assert relaxed.thresholds["fid_ratio"] == {"max": 4.0}


def test_cpu_quick_asks_for_bfloat16_only_where_the_cpu_has_it_and_the_gpu_presets_choose_for_themselves():
    quick = PRESETS["cpu-quick"].model
    assert quick.bfloat16_on_cpu and not quick.mixed_precision  # float32 unless the CPU computes in bfloat16
    assert not get_preset("cpu-quick", _parse_overrides(["model.bfloat16_on_cpu=false"])).model.bfloat16_on_cpu
    for name in ("gpu", "gpu-large"):
        model = PRESETS[name].model
        assert model.mixed_precision and model.mixed_precision_dtype == "float16" and not model.bfloat16_on_cpu
    assert not PRESETS["tiny"].model.bfloat16_on_cpu  # the tests' preset trains alike on every CPU


def test_the_step_benchmarks_time_the_full_step_unless_asked_for_the_editors_warm_up():
    """full_step_preset (bench/train_throughput.py, profile_step.py, seed_repeat.py, the JAX ports): a preset's
    warm-up would make a few timed steps the G+D step, which training leaves after its first hundreds."""
    from pipeline.presets import full_step_preset

    # cpu-quick trains G and D alone for its first 300 steps since session 47; the other presets never warm up
    assert {name: p.model.editor_from_step for name, p in PRESETS.items()} == {
        "tiny": 0, "cpu-quick": 300, "gpu": 0, "gpu-large": 0}
    for name in PRESETS:
        assert full_step_preset(name).model == PRESETS[name].model.replace(editor_from_step=0)  # nothing else moves
    asked = full_step_preset("cpu-quick", _parse_overrides(["model.editor_from_step=50", "model.batch_size=8"]))
    assert asked.model.editor_from_step == 50 and asked.model.batch_size == 8
