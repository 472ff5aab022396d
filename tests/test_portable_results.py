"""Result files and the repository carry no path of the machine that wrote them (bench/portable.py)."""
import json
import os
import pathlib
import subprocess
import tempfile

import pytest

from bench.portable import REPO, portable, portable_command


def test_portable_rewrites_this_machines_paths_and_nothing_else():
    scratch = tempfile.gettempdir()
    text = (f"--work-dir {scratch}/run/pipeline --catalog {REPO.parent}/shared/data/products "
            f"--out={REPO}/bench/results/x.json {REPO}/outputs ./data/sample {scratch}x/y /opt/data")
    assert portable(text) == ("--work-dir SCRATCH/run/pipeline --catalog ../shared/data/products "
                              "--out=bench/results/x.json outputs data/sample "
                              f"{scratch}x/y /opt/data")
    assert portable(None) is None
    assert portable_command("bench/x.py", ["--scratch", f"{scratch}/s"]) == "python bench/x.py --scratch SCRATCH/s"


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("path", sorted((REPO / "bench" / "results").glob("*.json")), ids=lambda p: p.name)
def test_committed_results_hold_no_absolute_paths(path):
    """No word of any string in a result file is an absolute path (two components or more) outside the system's
    own folders (/usr/bin/time is a tool, /tmp/run/model a place on one machine): a recorded command must
    reproduce on another machine."""
    system = ("usr", "bin", "etc", "dev", "proc", "sys")
    found = [word for text in _strings(json.loads(path.read_text())) for word in text.replace("=", " ").split()
             if word.startswith("/") and word.strip("/").count("/") >= 1 and word.split("/")[1] not in system]
    assert not found, f"{path.name} records machine paths {found[:3]}; bench/portable.py rewrites them"


def test_no_tracked_file_names_this_checkout_or_home():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    home = os.path.expanduser("~")
    needles = [str(REPO)] + ([home + "/"] if home not in ("", "/") else [])
    offenders = []
    for name in filter(None, tracked.decode().split("\0")):
        path = pathlib.Path(REPO, name)
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images and other binaries
            continue
        offenders += [f"{name}: {needle}" for needle in needles if needle in text]
    assert not offenders, offenders
