"""Retraining on a schedule.

Local: a loop that runs the pipeline at cron times (or every N seconds, or when a new span appears), one run at a
time (an exclusive file lock, so two schedulers on one work dir never overlap), each run in its own process so a
failed run is logged and the loop goes on. Outcomes are appended to `<work_dir>/schedule.jsonl`.

Kubeflow: `create_recurring_run` on a KFP endpoint with the compiled spec (KFP wants six-field cron).
"""
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from typing import Callable, List, Optional

log = logging.getLogger("vitrine.schedule")


class ScheduleLocked(RuntimeError):
    """Another run holds the work dir's lock."""


@contextlib.contextmanager
def exclusive_lock(path: str, wait: bool = True):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as error:
            raise ScheduleLocked(f"another Vitrine run holds {path}") from error
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def latest_span(catalog_dir: str) -> Optional[int]:
    spans = [int(n[5:]) for n in os.listdir(catalog_dir) if n.startswith("span-") and n[5:].isdigit()]
    return max(spans) if spans else None


def next_times(cron: Optional[str], every_s: Optional[float], start: dt.datetime):
    """Yields the planned start times after `start`."""
    if cron:
        from croniter import croniter

        iterator = croniter(cron, start)
        while True:
            yield iterator.get_next(dt.datetime)
    else:
        t = start
        while True:
            t = t + dt.timedelta(seconds=every_s)
            yield t


def run_pipeline_process(run_args: List[str], log_path: str) -> int:
    """One pipeline run in a child process (`python -m pipeline run ...`), output appended to log_path."""
    with open(log_path, "a") as out:
        return subprocess.call([sys.executable, "-m", "pipeline", "run", *run_args], stdout=out,
                               stderr=subprocess.STDOUT)


def schedule_local(work_dir: str, run_args: List[str], cron: Optional[str] = None, every_s: Optional[float] = None,
                   on_new_span: Optional[str] = None, max_runs: Optional[int] = None,
                   run_once: Callable[[List[str], str], int] = run_pipeline_process,
                   now: Callable[[], dt.datetime] = dt.datetime.now, poll_s: float = 1.0) -> List[dict]:
    """Runs the pipeline repeatedly; returns the outcome records (also appended to schedule.jsonl)."""
    if not (cron or every_s or on_new_span):
        raise ValueError("give --cron, --every or --on-new-span")
    os.makedirs(work_dir, exist_ok=True)
    lock_path = os.path.join(work_dir, "schedule.lock")
    journal = os.path.join(work_dir, "schedule.jsonl")
    run_log = os.path.join(work_dir, "schedule-runs.log")
    outcomes = []
    seen_span = latest_span(on_new_span) if on_new_span else None
    times = next_times(cron, every_s, now()) if (cron or every_s) else None
    planned = next(times) if times else None
    while max_runs is None or len(outcomes) < max_runs:
        if on_new_span:
            span = latest_span(on_new_span)
            due = span is not None and span != seen_span
        else:
            due = now() >= planned
        if not due:
            time.sleep(poll_s)
            continue
        started = now()
        with exclusive_lock(lock_path):
            log.info("Scheduled run starting (%s)", " ".join(run_args))
            code = run_once(run_args, run_log)
        finished = now()
        record = {"started": started.isoformat(), "finished": finished.isoformat(), "exit_code": code,
                  "status": "succeeded" if code == 0 else "failed", "log": run_log}
        if on_new_span:
            seen_span = latest_span(on_new_span)
            record["span"] = seen_span
        outcomes.append(record)
        with open(journal, "a") as f:
            f.write(json.dumps(record) + "\n")
        log.info("Scheduled run %s (exit %d) in %.0fs; next: %s", record["status"], code,
                 (finished - started).total_seconds(), "on new span" if on_new_span else "see cron")
        if times:
            planned = next(times)
            while planned <= now():  # a run longer than the interval skips the missed slots instead of piling up
                planned = next(times)
    return outcomes


def to_kfp_cron(cron: str) -> str:
    """KFP wants six fields (seconds first); a five-field cron gets '0' seconds."""
    fields = cron.split()
    if len(fields) == 5:
        return "0 " + cron
    if len(fields) == 6:
        return cron
    raise ValueError(f"cron must have 5 or 6 fields, got {cron!r}")


def create_kubeflow_recurring_run(host: str, package_path: str, cron: str, experiment: str = "vitrine",
                                  job_name: str = "vitrine-retrain", params: Optional[dict] = None,
                                  pipeline_root: Optional[str] = None, client=None):
    """Creates a recurring run on KFP; returns the kfp RecurringRun (or the API response)."""
    import kfp

    client = client or kfp.Client(host=host)
    experiment_obj = client.create_experiment(name=experiment)
    return client.create_recurring_run(
        experiment_id=experiment_obj.experiment_id,
        job_name=job_name,
        cron_expression=to_kfp_cron(cron),
        pipeline_package_path=package_path,
        params=params or {},
        enable_caching=False,
        max_concurrency=1,
        no_catchup=True,
        **({"pipeline_root": pipeline_root} if pipeline_root else {}),
    )
