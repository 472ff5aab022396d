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

ENV = "TF_ENABLE_ONEDNN_OPTS"
log = logging.getLogger(__name__)


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
