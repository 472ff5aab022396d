"""bench/train_quality.py refuses a bad --checkpoint before it reads any data or trains."""
import pytest

from bench import train_quality


def _refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        train_quality.main(argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_a_checkpoint_needs_the_run_that_trained_it(tmp_path, capsys):
    assert "need --work-dir" in _refused(["--catalog", "x", "--checkpoint", str(tmp_path / "step-00000010")], capsys)


def test_a_checkpoint_must_be_a_finished_step_folder(tmp_path, capsys):
    work = ["--work-dir", str(tmp_path)]
    assert "step-NNNNNNNN" in _refused(work + ["--checkpoint", str(tmp_path / "weights")], capsys)
    unfinished = tmp_path / "step-00000010"
    unfinished.mkdir()
    assert "no DONE marker" in _refused(work + ["--checkpoint", str(unfinished)], capsys)
    (unfinished / "DONE").write_text("10")
    assert "give one of them" in _refused(work + ["--checkpoint", str(unfinished), "--evaluate", "m"], capsys)


def test_checkpoint_step_reads_the_folder_name(tmp_path):
    import argparse

    folder = tmp_path / "step-00006000"
    folder.mkdir()
    (folder / "DONE").write_text("6000")
    assert train_quality._checkpoint_step(argparse.ArgumentParser(), str(folder)) == 6000


def test_score_kept_needs_a_training_run(tmp_path, capsys):
    assert "needs a run" in _refused(["--work-dir", str(tmp_path), "--evaluate", "m", "--score-kept"], capsys)


def test_kept_checkpoints_are_named_for_their_output_files():
    monitor = {"unpicked_checkpoint": "unpicked/step-00007000", "alternatives": {
        "judge_pick_edit=all": {"best": {"editor": 6900}, "differs": ["editor"],
                                "checkpoint": "picked_by/judge_pick_edit-all/step-00007000"},
        "judge_control_tolerance=0.04": {"best": {"generator": 5800}, "differs": [], "checkpoint": None}}}
    assert train_quality.kept_checkpoints(monitor) == {
        "unpicked": "unpicked/step-00007000",
        "picked_by_judge_pick_edit-all": "picked_by/judge_pick_edit-all/step-00007000"}
    # results written before session 50 (no kept checkpoints), and runs without the judge monitor
    assert train_quality.kept_checkpoints({"best": {"editor": 10}}) == {} and train_quality.kept_checkpoints(None) == {}


def test_continuing_a_checkpoint_needs_steps_past_it(tmp_path, capsys):
    folder = tmp_path / "step-00006000"
    folder.mkdir()
    (folder / "DONE").write_text("6000")
    continued = ["--work-dir", str(tmp_path), "--checkpoint", str(folder)]
    assert "past the checkpoint's step 6000" in _refused(continued + ["--steps", "6000"], capsys)
    # scoring a checkpoint keeps nothing beside a pick; continuing one trains, so its kept weights can be scored
    assert "without --steps" in _refused(continued + ["--score-kept"], capsys)


def test_a_base_model_must_be_an_exported_model_and_starts_a_new_run(tmp_path, capsys):
    work = ["--work-dir", str(tmp_path)]
    assert "not an exported Vitrine model" in _refused(work + ["--base-model", str(tmp_path)], capsys)
    (tmp_path / "assets.extra" / "keras").mkdir(parents=True)
    assert "warm-starts a new run" in _refused(work + ["--base-model", str(tmp_path), "--evaluate", "m"], capsys)
