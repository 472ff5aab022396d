"""bench/compare_runs.py reads the train_quality results this repository keeps."""
import pathlib

from bench.compare_runs import main, summarize, table

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "bench" / "results"
S16 = RESULTS / "train_quality_cpu-quick_s16_60min_fid_pick.json"
S16_SEED1 = RESULTS / "train_quality_cpu-quick_s16_60min_fid_pick_seed1.json"
S19 = RESULTS / "train_quality_cpu-quick_s19_60min_floor_heldout_pick.json"
S19_LAST = RESULTS / "train_quality_cpu-quick_s19_60min_floor_heldout_step6000.json"


def test_a_column_holds_the_bars_and_the_checks_fid_trajectory():
    import json

    column = summarize(json.loads(S16.read_text()))
    assert column["steps; img/s"] == "7149; 63.51"
    assert column["exported G / E check"] == "3500 / 6700"
    assert column["lowest check FID (step)"] == "5.01 (3500)" and column["last check FID (step)"] == "6.14 (7149)"
    assert column["articleType control (× judge)"] == "71.0 % [66.2, 75.8] = 1.00 ×"
    assert column["FID / floor"] == "4.51 ×"


def test_the_table_has_a_column_per_result_and_marks_what_one_lacks(tmp_path, capsys):
    old = tmp_path / "train_quality_old.json"
    old.write_text('{"training": {"steps": 900, "images_per_second": 50.0}, "metrics": {}}')
    assert main([str(S16), str(S16_SEED1), str(old)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| | cpu-quick_s16_60min_fid_pick | cpu-quick_s16_60min_fid_pick_seed1 | old |"
    assert "| overrides | (preset) | model.seed=1 | (preset) |" in lines
    assert "| lowest check FID (step) | 5.01 (3500) | 5.39 (5600) | – |" in lines
    assert "| FID / floor | 4.51 × | 3.87 × | – |" in lines
    assert "lowest check FID" not in table([str(old)])  # a result without judge checks has no check rows


def test_held_out_checks_and_a_rescored_checkpoint_get_their_own_rows():
    import json

    column = summarize(json.loads(S19.read_text()))
    assert column["lowest held-out check FID (step)"] == "3.95 (2300)"
    assert column["last held-out check FID (step)"] == "5.34 (6118)"
    assert column["exported G / E check"] == "2300 / 4200"
    assert column["held-out check FID at 1k / 2k / 3k / 4k / 5k / 6k"] == "6.45 / 4.31 / 4.25 / 4.69 / 4.96 / 5.30"
    seed1 = summarize(json.loads((RESULTS / "train_quality_cpu-quick_s19_60min_floor_heldout_pick_seed1.json")
                                 .read_text()))
    assert seed1["held-out check FID at 1k / 2k / 3k / 4k / 5k / 6k"].endswith(" / 4.02 / –")  # stopped before 6,000
    assert "lowest held-out check FID (step)" not in summarize(json.loads(S16.read_text()))
    rescored = summarize(json.loads(S19_LAST.read_text()))
    assert rescored["exported G / E check"] == "checkpoint 6000 (no pick)" and rescored["FID / floor"] == "4.78 ×"


def test_ten_minute_arms_compare_the_editors_training_and_the_checks_step_for_step():
    """The editor's steps after its warm-up and its share of the batch, and the checks at steps 100 / 300 / 500
    (no edit success inside the warm-up, where the check scored the untrained editor)."""
    import json

    def column(name):
        return summarize(json.loads((RESULTS / f"train_quality_cpu-quick_s27_10min_{name}_seed1.json").read_text()))

    checks = "category / edit checks at 100 / 300 / 500 (%)"
    defaults, half, warmup = column("defaults"), column("editor_batch_half"), column("editor_warmup300")
    assert defaults["editor's steps × share of the batch"] == "383 × 1"
    assert half["editor's steps × share of the batch"] == "534 × 0.5"
    assert warmup["editor's steps × share of the batch"] == "268 × 1"
    assert defaults[checks] == "11.7 / 11.7 · 36.7 / 25.0 · –"
    assert half[checks] == "14.8 / 3.9 · 29.7 / 10.2 · 46.9 / 18.8"
    assert warmup[checks] == "18.8 / – · 36.3 / – · 46.9 / 18.0"
    # since session 47 a run records its warm-up with its training (a preset's default, not only --set)
    recorded = json.loads((RESULTS / "train_quality_cpu-quick_s27_10min_defaults_seed1.json").read_text())
    recorded["training"]["editor_from_step"] = 300
    assert summarize(recorded)["editor's steps × share of the batch"] == "83 × 1"
    assert summarize(recorded)[checks] == "11.7 / – · 36.7 / – · –"


def test_a_run_that_recorded_its_cpu_gets_a_cpu_row_and_older_runs_none(tmp_path):
    """Since session 41 the benchmarks record the CPU's vector extensions: the same two cores ran cpu-quick's step
    36.6 img/s with AVX2 and ~57 with AVX-512, so a table mixing machines says which ran what."""
    import json

    fast = json.loads(S16.read_text())
    fast["machine"] = {"cpus": 2, "cpu_vector_extensions": ["avx2", "fma", "avx512f", "avx512_vnni"]}
    slow = json.loads(S16.read_text())
    slow["machine"] = {"cpus": 2, "cpu_vector_extensions": ["avx2", "fma"]}
    assert summarize(fast)["CPU"] == "2 cores, AVX-512"
    assert summarize(slow)["CPU"] == "2 cores, AVX2"
    assert "CPU" not in summarize(json.loads(S16.read_text()))
    paths = []
    for name, result in (("fast", fast), ("slow", slow), ("old", json.loads(S16.read_text()))):
        paths.append(str(tmp_path / f"train_quality_{name}.json"))
        pathlib.Path(paths[-1]).write_text(json.dumps(result))
    assert "| CPU | 2 cores, AVX-512 | 2 cores, AVX2 | – |" in table(paths).splitlines()
