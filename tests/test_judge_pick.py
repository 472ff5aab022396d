"""The judge monitor's pick rules (models/judge_pick.py), shared by the Trainer's monitor and the JAX trainer's
(bench/jax_monitor.py): scripted checks, no networks, no TensorFlow."""
import numpy as np
import pytest

from models.config import ModelConfig
from models.judge_pick import Picks, control_accuracies, edit_set, edit_success

ATTRS = ("articleType", "baseColour")


def _check(step, control, fid, edit=0.5, **extra):
    return {"step": step, **{f"{a}_control_accuracy": control for a in ATTRS}, "edit_success": edit, "fid": fid,
            **extra}


@pytest.mark.parametrize("tolerance, expected", [(0.02, 4), (0.0, 3)])
def test_generator_ties_go_to_the_lower_fid_within_the_control_tolerance(tolerance, expected):
    # as tests/test_training.py's monitor test: 2 ties 1 with a lower FID; 3 raises the top past 2; 4 ties 3 with an
    # FID 25 % lower; 5 is not 10 % lower than 4; 6 has the lowest FID but is out of the tie
    cfg = ModelConfig(judge_control_tolerance=tolerance, judge_fid_min_gain=0.1)
    picks = Picks(cfg, ATTRS)
    scripted = {1: (0.80, 5.0), 2: (0.81, 3.0), 3: (0.90, 8.0), 4: (0.89, 6.0), 5: (0.895, 5.6), 6: (0.87, 1.0)}
    taken = {step: picks.record(_check(step, *scores))[0] for step, scores in scripted.items()}
    assert picks.best["generator"]["step"] == expected and picks.best["editor"]["step"] == 1
    assert taken[1] == ["generator", "editor"] and all("editor" not in t for s, t in taken.items() if s > 1)
    assert picks.checks_without_gain == (2 if tolerance else 3)


def test_the_tolerance_is_read_from_the_best_check_not_early_stops_running_best():
    # session 41's hour: the best check's control (0.738) stood 0.0016 above early stop's running best (0.7365), and
    # the pick (0.7168) was inside the tolerance of the running best but not of the best check. Read against the
    # best check, the pick moves to the check that passed it.
    cfg = ModelConfig(judge_control_tolerance=0.02, judge_fid_min_gain=0.05, early_stop_min_delta=0.005)
    picks = Picks(cfg, ATTRS)
    for step, control in enumerate([0.700, 0.7171, 0.7202, 0.710], start=1):
        picks.record(_check(step, control, fid=4.0 + 0.1 * step))  # later checks: higher FID, no tie taken
        if step == 2:
            assert picks.best["generator"]["step"] == 1  # 0.7171 - 0.700 is inside the tolerance
    assert picks.top["generator"] == 0.7171 and picks.peak["generator"] == 0.7202  # 0.7202 is no early-stop gain
    assert picks.best["generator"]["step"] == 3  # 0.7202 - 0.700 > 0.02: the check that passed the pick


def test_held_out_fid_breaks_the_ties_when_chosen():
    cfg = ModelConfig(judge_holdout=0.04, judge_pick_fid="heldout", judge_fid_min_gain=0.0)
    picks = Picks(cfg, ATTRS)
    picks.record(_check(1, 0.8, fid=5.0, fid_heldout=4.0))
    picks.record(_check(2, 0.8, fid=3.0, fid_heldout=4.5))  # lower training FID, higher held-out FID: no pick
    picks.record(_check(3, 0.8, fid=6.0, fid_heldout=3.5))
    assert picks.fid_key == "fid_heldout" and picks.best["generator"]["step"] == 3


def test_the_editor_waits_for_its_warm_up_and_early_stop_for_its_minimum():
    cfg = ModelConfig(editor_from_step=2, early_stop_patience=2, early_stop_min_steps=5, judge_control_tolerance=0.0)
    picks = Picks(cfg, ATTRS)
    assert picks.record(_check(1, 0.5, 9.0, edit=0.9)) == (["generator"], ["generator"])  # an untrained editor
    assert picks.record(_check(3, 0.5, 9.0, edit=0.2)) == (["editor"], ["editor"])
    for step in (4, 5):
        picks.record(_check(step, 0.5, 9.0, edit=0.2))
    assert picks.checks_without_gain == 2 and picks.should_stop(5) and not picks.should_stop(4)
    assert picks.best["editor"]["step"] == 3 and "editor 0.200 at step 3" in picks.describe()


def test_edit_sets_change_one_attribute_to_another_value_and_score_the_target():
    rng = np.random.default_rng(0)
    sources = {"image": np.zeros((40, 4, 4, 3), np.uint8), "articleType": rng.integers(0, 3, 40),
               "baseColour": rng.integers(0, 5, 40)}
    edits = edit_set(np.random.default_rng(1), sources, sources, 30, ATTRS, {"articleType": 3, "baseColour": 5})
    assert len(edits["sources"]) == 30 and edits["sources"].dtype == np.float32
    for i, changed in enumerate(edits["changed"]):
        attribute = ATTRS[changed]
        assert edits["targets"][i] != sources[attribute][i]
        assert edits["conditions"][attribute][i].argmax() == edits["targets"][i]
        assert edits["conditions"][ATTRS[1 - changed]][i].sum() == 0  # the other attribute is kept
    logits = {f"{a}_logits": np.stack([edits["conditions"][a][i] if edits["changed"][i] == k else
                                       np.eye(edits["conditions"][a].shape[1])[0] for i in range(30)])
              for k, a in enumerate(ATTRS)}
    assert edit_success(logits, edits, ATTRS) == 1.0
    logits["articleType_logits"] = -logits["articleType_logits"]
    assert edit_success(logits, edits, ATTRS) == pytest.approx(np.mean(edits["changed"] == 1))
    judged = {"articleType_logits": np.eye(3)[[0, 1, 2, 2]], "baseColour_logits": np.eye(5)[[0, 0, 0, 0]]}
    requested = {"articleType": np.array([0, 1, 2, 0]), "baseColour": np.array([0, 1, 2, 3])}
    assert control_accuracies(judged, requested, ATTRS) == {"articleType_control_accuracy": 0.75,
                                                            "baseColour_control_accuracy": 0.25}


def test_alternative_picks_each_change_one_pick_setting():
    from models.judge_pick import alternative_picks

    cfg = ModelConfig(judge_holdout=0.04, judge_also_pick=" judge_pick_edit=all , judge_control_tolerance=0.04,")
    alternatives = alternative_picks(cfg)
    assert list(alternatives) == ["judge_pick_edit=all", "judge_control_tolerance=0.04"]
    assert alternatives["judge_pick_edit=all"] == cfg.replace(judge_pick_edit="all", judge_also_pick="")
    assert alternatives["judge_control_tolerance=0.04"].judge_control_tolerance == 0.04
    assert alternative_picks(ModelConfig()) == {}
    # a run whose own setting came from `--set model.judge_control_tolerance=0` holds an int: the alternative's
    # value is read as the field's type all the same
    zero = ModelConfig(judge_control_tolerance=0, judge_also_pick="judge_control_tolerance=1.0")
    assert list(alternative_picks(zero)) == ["judge_control_tolerance=1.0"]


@pytest.mark.parametrize("entry, message", [
    ("judge_pick_edit", "SETTING=VALUE"),
    ("early_stop_patience=3", "SETTING=VALUE"),  # not a pick setting: early stop follows the run's own
    ("judge_control_tolerance=wide", "takes a float"),
    ("judge_pick_edit=train", "the run's own judge_pick_edit"),
    ("judge_pick_edit=all,judge_pick_edit=all", "twice"),
])
def test_bad_alternative_picks_are_refused_with_the_entry_named(entry, message):
    from models.judge_pick import alternative_picks

    with pytest.raises(ValueError, match=message):
        alternative_picks(ModelConfig(judge_also_pick=entry))


def test_an_alternative_pick_follows_the_same_checks_to_its_own_pick():
    """Session 49's seed 3 in miniature: the training-image edits tie from step 2 on and keep step 2; the pooled
    edits (the alternative) rise to step 4."""
    from models.judge_pick import alternative_picks

    cfg = ModelConfig(judge_holdout=0.04, judge_also_pick="judge_pick_edit=all")
    own, alternative = Picks(cfg, ATTRS), Picks(alternative_picks(cfg)["judge_pick_edit=all"], ATTRS)
    for step, (train, pooled) in {1: (0.70, 0.70), 2: (0.81, 0.80), 3: (0.81, 0.82), 4: (0.81, 0.84)}.items():
        check = _check(step, 0.8, 5.0, edit=train, edit_success_all=pooled)
        own.record(check)
        alternative.record(check)
    assert own.best["editor"]["step"] == 2 and alternative.best["editor"]["step"] == 4
    assert own.best["generator"]["step"] == alternative.best["generator"]["step"] == 1


@pytest.mark.parametrize("preset", ["cpu-quick", "gpu", "gpu-large"])
def test_the_shipped_presets_pick_the_editor_by_its_pooled_edits(preset):
    """Session 51: cpu-quick and the gpu presets score the editor's checks on the training images' and the held-out
    records' edits pooled. The preset validates as the Trainer validates it, its editor side reads
    `edit_success_all`, and the old rule stays one `judge_also_pick` entry away (and `all` is refused there as the
    run's own)."""
    from models.judge_pick import alternative_picks
    from models.training import validate_judge_settings
    from pipeline.presets import get_preset

    cfg = get_preset(preset).model
    validate_judge_settings(cfg)
    assert Picks(cfg, ATTRS).edit_key == "edit_success_all"
    old_rule = cfg.replace(judge_also_pick="judge_pick_edit=train")
    validate_judge_settings(old_rule)
    assert Picks(alternative_picks(old_rule)["judge_pick_edit=train"], ATTRS).edit_key == "edit_success"
    with pytest.raises(ValueError, match="the run's own judge_pick_edit"):
        alternative_picks(cfg.replace(judge_also_pick="judge_pick_edit=all"))
