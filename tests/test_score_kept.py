"""bench/train_quality.py --score-kept on the tiny pipeline run: one training run scores its own pick, its last
weights and an alternative pick, each exported from the checkpoint the Trainer kept and scored by the evaluator."""
import json
import os

from bench import train_quality


def test_score_kept_scores_the_last_weights_and_the_alternative_pick(tiny_run, tmp_path):
    paths, _, _ = tiny_run
    # Settings that fix the picks whatever the scores (as tests/test_training.py's trained-run test): the run's own
    # keeps check 1 on both sides; the alternative (every check ties on control, any FID is closer) moves the
    # generator side to the last check.
    settings = ["model.judge_every=1", "model.judge_control_tolerance=0", "model.judge_fid_min_gain=-1000",
                "model.early_stop_min_delta=2", "model.judge_also_pick=judge_control_tolerance=1.0"]
    output = tmp_path / "results" / "quality.json"
    argv = ["--work-dir", os.path.dirname(paths["metadata_path"]), "--preset", "tiny", "--steps", "3",
            "--scratch", str(tmp_path / "run"), "--output", str(output), "--score-kept"]
    assert train_quality.main(argv + [arg for item in settings for arg in ("--set", item)]) == 0
    run = json.loads(output.read_text())
    assert run["judge_monitor"]["restored"] == {"generator": 1, "editor": 1}
    assert run["judge_monitor"]["unpicked_checkpoint"] == "unpicked/step-00000003"
    kept = {"unpicked": "unpicked/step-00000003",
            "picked_by_judge_control_tolerance-1.0": "picked_by/judge_control_tolerance-1.0/step-00000003"}
    assert train_quality.kept_checkpoints(run["judge_monitor"]) == kept
    scored = {}
    for name, folder in kept.items():
        scored[name] = json.loads((tmp_path / "results" / f"quality_{name}.json").read_text())
        assert scored[name]["evaluated_checkpoint"].endswith(folder)
        assert scored[name]["overrides"] == run["overrides"]  # the run's own settings
        assert (tmp_path / f"run_{name}" / "evaluation" / "report.html").exists()
    # the pick (generator of check 1) and the last weights (check 3) are different exports: their FIDs differ
    fids = {name: result["metrics"]["fid_judge"]["value"] for name, result in {"pick": run, **scored}.items()}
    assert fids["pick"] != fids["unpicked"], fids
