"""Version hot-swap on a running server: new versions, corrupt and half-written ones, zero failed requests.

The tests are one story, in file order, on one server (v1 -> v2 under load -> v3 refused -> v4 half written, then
complete); tests/conftest.py keeps this module on one xdist worker."""
import os
import shutil
import threading
import time

import grpc
import numpy as np
import pytest

pytest.importorskip("tensorflow")
from serving.client import VitrineClient, VitrineServingError  # noqa: E402
from fixtures.toy_model import ServerProcess, write_toy_model  # noqa: E402

REQUEST = {"articleType": "Tshirts", "baseColour": "Red"}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("versions") / "vitrine"
    write_toy_model(base, 1)
    return base


@pytest.fixture(scope="module")
def staging(tmp_path_factory):
    return tmp_path_factory.mktemp("staging")


@pytest.fixture(scope="module")
def server(base):
    proc = ServerProcess(base, "--poll-interval", "0.3", "--enable-batching").start()
    yield proc
    assert proc.stop() == 0, proc.log()[-2000:]


@pytest.fixture(scope="module")
def client(server):
    with VitrineClient(server.target, timeout=30) as c:
        yield c


def wait_for(predicate, timeout_s=60.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def status_of(client, version):
    return {s["version"]: s for s in client.status()}.get(version)


def test_new_version_pushed_under_load_has_zero_failures(client, base, staging):
    before = client.generate(REQUEST, count=1, seed=7)
    assert before.version == 1
    errors, versions, stop = [], [], threading.Event()

    def load():
        with VitrineClient(client.target, timeout=30) as c:
            for _ in range(2000):  # bounded even if `stop` is never set
                if stop.is_set():
                    return
                try:
                    versions.append(c.generate(REQUEST, count=2, seed=7).version)
                except VitrineServingError as e:
                    errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        # Write elsewhere, then rename: the way a pusher should publish a version.
        write_toy_model(staging, 2, tag=40)
        os.rename(staging / "2", base / "2")
        wait_for(lambda: versions and versions[-1] == 2, what="version 2 to be served")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors[:3]
    assert set(versions) == {1, 2}
    after = client.generate(REQUEST, count=1, seed=7)
    assert after.version == 2
    assert not np.array_equal(after.images, before.images)  # tag 40 shifts every pixel
    assert status_of(client, 1)["state"] == "END" and status_of(client, 2)["state"] == "AVAILABLE"


def test_corrupt_version_is_refused_and_previous_keeps_serving(client, base, server):
    (base / "3").mkdir()
    (base / "3" / "saved_model.pb").write_bytes(b"this is not a protobuf \xff\xfe" * 10)
    status = wait_for(lambda: (status_of(client, 3) or {}).get("error_message") and status_of(client, 3),
                      what="version 3 to be refused")
    assert status["state"] == "END" and status["error_code"] != 0
    assert "saved_model.pb" in status["error_message"]
    assert client.generate(REQUEST).version == 2
    assert "refusing version 3" in server.log()
    with pytest.raises(VitrineServingError) as info:
        client.generate(REQUEST, version=3)
    assert info.value.code == grpc.StatusCode.NOT_FOUND and "[2]" in info.value.details


def test_half_written_version_waits_then_loads(client, base, staging):
    (base / "4" / "variables").mkdir(parents=True)
    status = wait_for(lambda: status_of(client, 4), what="version 4 to be reported")
    wait_for(lambda: "no saved_model.pb" in status_of(client, 4)["error_message"], what="v4 incomplete reason")
    assert client.generate(REQUEST).version == 2
    write_toy_model(staging, 4, tag=80)
    # Finish the copy, saved_model.pb last, as a careful writer would.
    for item in (staging / "4").iterdir():
        if item.name != "saved_model.pb":
            if item.is_dir():
                shutil.copytree(item, base / "4" / item.name, dirs_exist_ok=True)
            else:
                shutil.copy(item, base / "4" / item.name)
    shutil.copy(staging / "4" / "saved_model.pb", base / "4" / "saved_model.pb")
    wait_for(lambda: client.generate(REQUEST).version == 4, what="version 4 to be served")
    assert status_of(client, 4)["state"] == "AVAILABLE" and status_of(client, 4)["error_message"] == ""
