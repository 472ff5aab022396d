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
