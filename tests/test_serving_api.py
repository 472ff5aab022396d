"""The in-process server API the `vitrine serve` CLI calls, and the TF error cleaner."""
import time

import grpc
import pytest

from serving.server import clean_tf_error

NOISY = ("Graph execution error:\n\nDetected at node Assert/Assert defined at (most recent call last):\n"
         "<stack traces unavailable>\nassertion failed: [Unknown articleType: \\'Foo\\'. Valid values: "
         "Tshirts, Shirts]\n\t [[{{node Assert/Assert}}]] [Op:__inference_signature_wrapper_3695]")


def test_clean_tf_error_keeps_only_the_assertion():
    assert clean_tf_error(NOISY) == "Unknown articleType: 'Foo'. Valid values: Tshirts, Shirts"
    assert clean_tf_error("Graph execution error:\n\nDetected at node x\nUnknown image file format. "
                          "One of JPEG, PNG, GIF, BMP required.\n\t [[{{node DecodeImage}}]] [Op:__inf_1]") == \
        "Unknown image file format. One of JPEG, PNG, GIF, BMP required."


def test_serve_on_ephemeral_port_starts_empty_and_picks_up_a_version(tmp_path):
    pytest.importorskip("tensorflow")
    from fixtures.toy_model import write_toy_model
    from serving.client import VitrineClient, VitrineServingError
    from serving.server import serve

    base = tmp_path / "vitrine"
    base.mkdir()
    server = serve(base, port=0, host="127.0.0.1", poll_interval_s=0.2)
    try:
        assert server.port > 0 and server.manager.name == "vitrine"
        with VitrineClient(f"127.0.0.1:{server.port}", timeout=30) as client:
            with pytest.raises(VitrineServingError) as info:
                client.generate({"articleType": "Jeans", "baseColour": "Red"})
            assert info.value.code == grpc.StatusCode.NOT_FOUND and "no loaded version" in info.value.details
            write_toy_model(tmp_path / "staging", 5)
            (tmp_path / "staging" / "5").rename(base / "5")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not server.manager.served():
                time.sleep(0.2)
            assert client.generate({"articleType": "Jeans", "baseColour": "Red"}, count=2).version == 5
    finally:
        server.stop(1.0)
    assert server.wait(0)


def test_full_batching_queue_is_resource_exhausted_over_grpc(tmp_path):
    pytest.importorskip("tensorflow")
    from concurrent.futures import ThreadPoolExecutor

    from fixtures.toy_model import write_toy_model
    from serving.batching import BatchingConfig
    from serving.client import VitrineClient, VitrineServingError
    from serving.server import serve

    write_toy_model(tmp_path / "vitrine", 1)
    server = serve(tmp_path / "vitrine", port=0, host="127.0.0.1",
                   batching=BatchingConfig(max_batch_size=1, batch_timeout_micros=0, max_enqueued_batches=1))
    loaded = server.manager.served()[1]
    generate = loaded.signatures["generate"]

    def slow_generate(**inputs):  # keeps the one queue slot busy long enough to be seen
        time.sleep(0.5)
        return generate(**inputs)

    loaded.signatures["generate"] = slow_generate
    try:
        def call(seed):
            with VitrineClient(f"127.0.0.1:{server.port}", timeout=30, retries=0) as client:
                try:
                    return client.generate({"articleType": "Jeans", "baseColour": "Red"}, seed=seed).version
                except VitrineServingError as e:
                    return e.code

        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(call, range(4)))
    finally:
        server.stop(2.0)
    assert 1 in outcomes and grpc.StatusCode.RESOURCE_EXHAUSTED in outcomes, outcomes
