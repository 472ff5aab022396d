"""bench/prepare_gpu_run.py: the device call it prints fits the device tool's limits and runs what the notes say."""
import importlib.util
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("prepare_gpu_run", REPO / "bench" / "prepare_gpu_run.py")
prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prepare)


def test_device_command_installs_the_wheels_then_trains_with_the_judge():
    command = prepare.device_command(".jaxdata/train_judged.npz", "gpu", 300)
    assert len(command) <= prepare.COMMAND_LIMIT
    install, train = command.split(" && ", 1)
    assert install.startswith("python3 -m pip install") and "--target /tmp/site .whl/*.whl" in install
    assert "PYTHONPATH=/tmp/site" in train and "KERAS_BACKEND=jax" in train and "|| exit;" in train
    assert "set -o pipefail;" in train  # the tee keeps the log; the call still fails when training does
    assert "bench/train_gan_jax.py --arrays .jaxdata/train_judged.npz --preset gpu --judge --max-seconds 300" in train
    assert "--out $OUT/run" in train  # what comes back is what import_jax_weights reads


def test_scoring_commands_score_the_pick_and_the_last_weights_on_the_run_s_own_judge():
    commands = prepare.scoring_commands("work_dirs/gpu_run/pipeline", "gpu")
    imports = [c for c in commands if "import_jax_weights" in c]
    scores = [c for c in commands if "train_quality" in c]
    assert len(imports) == 2 and sum("--generator last" in c for c in imports) == 1
    assert len(scores) == 2 and all("--work-dir work_dirs/gpu_run/pipeline --preset gpu" in c for c in scores)


def test_every_wheel_is_pinned_once_and_keras_is_carried():
    names = [w.split("==")[0] for w in prepare.WHEELS]
    assert all("==" in w for w in prepare.WHEELS) and len(set(names)) == len(names)  # one version of each
    assert "keras" in names


@pytest.mark.parametrize("path", ["/tmp/arrays.npz", "../arrays.npz"])
def test_a_carry_outside_the_checkout_is_refused(path):
    with pytest.raises(SystemExit, match="inside the checkout"):
        prepare.main(["--arrays", path, "--work-dir", "work_dirs/never_made"])
