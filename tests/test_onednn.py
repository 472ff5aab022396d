"""oneDNN's CPU kernels: `vitrine`, the tests and the benchmarks turn them on before TensorFlow is imported, and an
explicit TF_ENABLE_ONEDNN_OPTS=0 keeps Eigen's (models/onednn.py)."""
import os
import pathlib
import subprocess
import sys

from models.onednn import ENV, onednn_enabled

REPO = pathlib.Path(__file__).resolve().parents[1]


def _python(code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != ENV}
    return subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=300,
                          env={**base, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **env})


def test_this_test_process_runs_the_kernels_its_environment_asks_for():
    """conftest.py sets the switch before any test imports TensorFlow; set too late, it would read 1 and run Eigen."""
    assert onednn_enabled() == (os.environ[ENV] == "1")


def test_prefer_onednn_turns_the_kernels_on_unless_told_otherwise_and_never_after_tensorflow_is_imported():
    probe = ("from models.onednn import prefer_onednn, onednn_enabled\n"
             "{before}value = prefer_onednn()\nprint('RESULT', repr(value), onednn_enabled())")
    unset = _python(probe.format(before=""))
    assert unset.returncode == 0, unset.stderr
    assert "RESULT '1' True" in unset.stdout
    told_off = _python(probe.format(before=""), **{ENV: "0"})
    assert told_off.returncode == 0, told_off.stderr
    assert "RESULT '0' False" in told_off.stdout
    too_late = _python(probe.format(before="import tensorflow\n"))
    assert too_late.returncode == 0, too_late.stderr
    assert "RESULT '' " in too_late.stdout  # the environment stays unset: TensorFlow has read it already
    assert "TensorFlow was imported before prefer_onednn()" in too_late.stderr


def test_the_vitrine_command_sets_the_switch_before_its_verb_runs(tmp_path):
    code = ("import os\nfrom pipeline import cli\n"
            "try:\n"  # an empty work dir: the verb fails (no ML Metadata there) after main() has set the switch
            f"    cli.main(['runs', '--work-dir', {str(tmp_path)!r}])\n"
            "except FileNotFoundError:\n    pass\n"
            f"print('RESULT', os.environ.get({ENV!r}))")
    done = _python(code)
    assert "RESULT 1" in done.stdout, done.stdout + done.stderr
