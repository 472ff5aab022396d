"""oneDNN's CPU kernels for TensorFlow: on in every Vitrine entry point unless the environment says otherwise.

On Linux, TensorFlow 2.16 turns its oneDNN kernels on by itself only on CPUs with AVX-512 VNNI or BF16, AVX-VNNI or
AMX (DefaultOneDnnPolicy in tensorflow/core/util/port.cc), and runs Eigen's kernels elsewhere. On the 2-core AMD
EPYC (AVX2, no AVX-512) that the project is developed on, oneDNN ran cpu-quick's full G+E+D training step about 1.6x
faster. The convolution backward passes, 68 % of the step's op time, got the largest share of that (bench/RESULTS.md
§ Session 40, bench/profile_step.py). TensorFlow reads the switch once, when it is imported, so the `vitrine`
command, the tests and the benchmarks call `prefer_onednn()` before they import it, and the pipeline image sets it
in its environment. `TF_ENABLE_ONEDNN_OPTS=0` keeps Eigen's kernels. oneDNN sums in another order than Eigen, so the
same seed trains other weights than with it off.
"""
import logging
import os
import sys
from typing import Optional, Sequence, Tuple

ENV = "TF_ENABLE_ONEDNN_OPTS"
log = logging.getLogger(__name__)

# The CPU's vector extensions that decide how fast the step runs here: the same 2 cores ran cpu-quick's full step
# at 36.6 img/s with AVX2 and 57 img/s with AVX-512 (oneDNN's kernels both; bench/RESULTS.md § Sessions 40-41).
VECTOR_EXTENSIONS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
                     "amx_bf16", "amx_int8")
# The extensions on which TensorFlow 2.16 turns oneDNN on by itself (DefaultOneDnnPolicy, core/util/port.cc).
ONEDNN_BY_DEFAULT = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def prefer_onednn() -> str:
    """Sets TF_ENABLE_ONEDNN_OPTS=1 unless it is set already; returns the value TensorFlow will read. Once TensorFlow
    is imported the switch cannot change: then the environment is left as it is, with a warning if it was unset."""
    if "tensorflow" in sys.modules:
        if ENV not in os.environ:
            log.warning("TensorFlow was imported before prefer_onednn(): its CPU kernels stay as it chose them")
        return os.environ.get(ENV, "")
    return os.environ.setdefault(ENV, "1")


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs oneDNN's kernels (imports TensorFlow)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def cpu_vector_extensions(cpuinfo: str = "/proc/cpuinfo") -> Optional[Tuple[str, ...]]:
    """The VECTOR_EXTENSIONS this machine's CPU reports (the first `flags` line of /proc/cpuinfo), in that order;
    None where the file is missing or has no such line (not Linux, or a kernel that hides it). Recorded by the
    benchmarks beside their figures and logged by the Trainer, so figures from different machines are told apart."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    flags = set(value.split())
                    return tuple(name for name in VECTOR_EXTENSIONS if name in flags)
    except OSError:
        return None
    return None


def widest_extension(extensions: Optional[Sequence[str]]) -> str:
    """"AMX", "AVX-512", "AVX2", "no AVX2", or "unknown" (None: the machine did not say)."""
    if extensions is None:
        return "unknown"
    return ("AMX" if any(e.startswith("amx") for e in extensions) else "AVX-512" if "avx512f" in extensions
            else "AVX2" if "avx2" in extensions else "no AVX2")


def describe_cpu(extensions: Optional[Sequence[str]]) -> str:
    """One line for the logs: the widest vector extension and whether TensorFlow turns oneDNN on by itself there."""
    if extensions is None:
        return "CPU vector extensions unknown"
    widest = widest_extension(extensions)
    default = any(e in ONEDNN_BY_DEFAULT for e in extensions)
    return (f"{widest} CPU ({' '.join(extensions) or 'none of ' + ', '.join(VECTOR_EXTENSIONS)}); TensorFlow "
            f"{'turns oneDNN on by itself here' if default else 'runs Eigen here unless TF_ENABLE_ONEDNN_OPTS=1'}")
