"""The local scheduler: runs the real pipeline repeatedly, one run at a time, and journals every outcome.

- `test_schedule_runs_the_pipeline_twice_without_overlap`: the real pipeline (`python -m pipeline run` in a child
  process, `tiny` preset, few steps, TFX caching on so the second run reuses ExampleGen/StatisticsGen) runs twice
  with `every_s=1`, both recorded in schedule.jsonl, the second starting after the first finished.
- two schedulers on one work dir never overlap (the work dir's lock); a held lock refuses a non-waiting run;
- a failing run (a real child process that exits non-zero) is recorded as failed and the loop goes on.
"""
import datetime as dt
import json
import os
import threading
import time

import pytest

from data.subset import cut_catalog
from pipeline import schedule

RUN_SETS = ["model.train_steps=5", "model.judge_steps=5", "eval_num_samples=16", "eval_num_edits=8"]


def _journal(work_dir):
    with open(os.path.join(work_dir, "schedule.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_schedule_runs_the_pipeline_twice_without_overlap(tmp_path, sample_catalog):
    from pipeline.pipeline import default_paths
    from pipeline.runs import list_runs

    catalog = cut_catalog(sample_catalog, tmp_path / "catalog", types=("Tshirts", "Watches"), per_type=24)
    work = str(tmp_path / "work")
    run_args = ["--catalog", catalog, "--preset", "tiny", "--work-dir", work, "--cache"]
    for item in RUN_SETS:
        run_args += ["--set", item]
    outcomes = schedule.schedule_local(work, run_args, every_s=1, max_runs=2, poll_s=0.2)
    log = open(os.path.join(work, "schedule-runs.log")).read()
    assert [o["status"] for o in outcomes] == ["succeeded", "succeeded"], log[-4000:]
    assert _journal(work) == outcomes
    first, second = (dt.datetime.fromisoformat(o["started"]) for o in outcomes)
    assert dt.datetime.fromisoformat(outcomes[0]["finished"]) <= second  # no overlap
    runs = list_runs(default_paths(work)["metadata_path"], limit=5)
    assert len(runs) == 2  # both are real pipeline runs in MLMD


def test_two_schedulers_on_one_work_dir_never_overlap(tmp_path):
    work = str(tmp_path / "work")
    intervals, guard = [], threading.Lock()

    def run_once(run_args, log_path):
        begin = time.monotonic()
        time.sleep(0.5)
        with guard:
            intervals.append((begin, time.monotonic()))
        return 0

    threads = [threading.Thread(target=schedule.schedule_local,
                                kwargs=dict(work_dir=work, run_args=[], every_s=0.1, max_runs=2, run_once=run_once,
                                            poll_s=0.05)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(intervals) == 4
    intervals.sort()
    for (_, end), (begin, _) in zip(intervals, intervals[1:]):
        assert begin >= end, intervals
    assert len(_journal(work)) == 4

    with schedule.exclusive_lock(os.path.join(work, "schedule.lock")):
        with pytest.raises(schedule.ScheduleLocked):
            with schedule.exclusive_lock(os.path.join(work, "schedule.lock"), wait=False):
                pass


def test_a_failed_run_is_recorded_and_the_loop_goes_on(tmp_path):
    work = str(tmp_path / "work")
    # A real `python -m pipeline run` child that fails fast (unknown preset), twice.
    outcomes = schedule.schedule_local(work, ["--catalog", str(tmp_path), "--preset", "no-such-preset",
                                              "--work-dir", work], every_s=0.5, max_runs=2, poll_s=0.1)
    assert [o["status"] for o in outcomes] == ["failed", "failed"]
    assert all(o["exit_code"] != 0 for o in outcomes)
    assert _journal(work) == outcomes
    assert "no-such-preset" in open(os.path.join(work, "schedule-runs.log")).read()
