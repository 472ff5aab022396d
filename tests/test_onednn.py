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


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    core = f"processor\t: {{n}}\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n"
    path.write_text(core.format(n=0) + core.format(n=1))
    return str(path)


def test_the_cpus_vector_extensions_are_read_in_one_order_and_unknown_says_so(tmp_path):
    from models.onednn import cpu_vector_extensions

    flags = "fpu sse2 avx512_bf16 avx2 amx_tile avx512f fma avx512bw avx512_vnni amx_bf16 avx512vl"
    assert cpu_vector_extensions(_cpuinfo(tmp_path, flags)) == (
        "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
    assert cpu_vector_extensions(_cpuinfo(tmp_path, "fpu sse2")) == ()
    assert cpu_vector_extensions(str(tmp_path / "missing")) is None
    no_flags = tmp_path / "no_flags"
    no_flags.write_text("processor\t: 0\nmodel name\t: Some CPU\n")
    assert cpu_vector_extensions(str(no_flags)) is None


def test_the_log_line_names_the_widest_extension_and_whether_tensorflow_picks_onednn_itself():
    """TensorFlow 2.16 turns oneDNN on by itself only with AVX-512 VNNI/BF16, AVX-VNNI or AMX: an AVX-512 CPU
    without VNNI (a Skylake server) runs Eigen's kernels unless told."""
    from models.onednn import describe_cpu, widest_extension

    assert widest_extension(("avx2", "fma")) == "AVX2"
    assert widest_extension(("avx2", "avx512f", "amx_tile")) == "AMX"
    assert widest_extension(()) == "no AVX2" and widest_extension(None) == "unknown"
    assert describe_cpu(("avx2", "fma")).endswith("runs Eigen here unless TF_ENABLE_ONEDNN_OPTS=1")
    assert describe_cpu(("avx2", "fma", "avx512f", "avx512bw")).startswith("AVX-512 CPU (avx2 fma avx512f avx512bw)")
    skylake = describe_cpu(("avx2", "fma", "avx512f", "avx512bw"))
    assert skylake.endswith("runs Eigen here unless TF_ENABLE_ONEDNN_OPTS=1")
    assert describe_cpu(("avx2", "avx512f", "avx512_vnni")).endswith("turns oneDNN on by itself here")
    assert describe_cpu(("avx2", "avx_vnni")).startswith("AVX2 CPU") and "by itself" in describe_cpu(("avx_vnni",))
    assert describe_cpu(None) == "CPU vector extensions unknown"
