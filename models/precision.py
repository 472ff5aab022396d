"""Mixed precision: which Keras dtype policy a run trains under, and where it can run.

`mixed_precision` turns it on; `mixed_precision_dtype` picks the half type. float16 (the default) needs a GPU and
dynamic loss scaling. bfloat16 keeps float32's exponent range, so it needs no loss scaling; it runs on GPUs from
Ampere on and on CPUs with bfloat16 instructions (AVX512_BF16 or AMX) under oneDNN's kernels. On a 2-core AMD EPYC
with AVX512_BF16, cpu-quick's full step ran 1.11x faster than in float32 (61.9-65.4 against 55.6-58.6 img/s,
bench/results/train_throughput_s41_bf16_cpu_ab.json).
`bfloat16_on_cpu` asks for bfloat16 only where the CPU computes in it, and float32 on other CPUs, without a warning:
the setting a preset can carry to every machine (cpu-quick does). It does nothing on a GPU.
Variables stay float32 under both; the networks cast their outputs back to float32 (models/networks.py).
"""
from typing import Optional, Sequence, Tuple

from models.config import ModelConfig
from models.onednn import cpu_vector_extensions, onednn_enabled

CPU_BF16_EXTENSIONS = ("avx512_bf16", "amx_bf16")


def policy_name(cfg: ModelConfig) -> str:
    """The Keras dtype policy the networks are built and trained under."""
    return f"mixed_{cfg.mixed_precision_dtype}" if cfg.mixed_precision else "float32"


def needs_loss_scaling(cfg: ModelConfig) -> bool:
    """float16's narrow exponent underflows small gradients without dynamic loss scaling; bfloat16's does not."""
    return cfg.mixed_precision and cfg.mixed_precision_dtype == "float16"


def cpu_has_bfloat16(extensions: Optional[Sequence[str]]) -> bool:
    """Whether a CPU with these vector extensions (models/onednn.py: cpu_vector_extensions) computes in bfloat16."""
    return extensions is not None and any(name in extensions for name in CPU_BF16_EXTENSIONS)


def bfloat16_on_this_cpu() -> bool:
    """Whether training here, on the CPU, keeps bfloat16 mixed precision (imports TensorFlow)."""
    return cpu_has_bfloat16(cpu_vector_extensions()) and onednn_enabled()


def _why_not_bfloat16(extensions: Optional[Sequence[str]]) -> str:
    """Why a CPU with these extensions does not compute in bfloat16 here (its instructions, or oneDNN's kernels)."""
    return ("oneDNN's kernels are off (TF_ENABLE_ONEDNN_OPTS=0)" if cpu_has_bfloat16(extensions)
            else f"this CPU has neither {' nor '.join(CPU_BF16_EXTENSIONS)}")


def where_the_cpu_computes_in_bfloat16(cfg: ModelConfig, extensions: Optional[Sequence[str]],
                                       onednn: bool) -> Tuple[ModelConfig, Optional[str]]:
    """`bfloat16_on_cpu` on a machine without a GPU: mixed_bfloat16 where the CPU computes in it, float32 (the
    configuration unchanged) elsewhere. Returns the configuration and a line for the log saying which, and why.
    An explicit mixed_precision is left to on_cpu."""
    if not cfg.bfloat16_on_cpu or cfg.mixed_precision:
        return cfg, None
    if cpu_has_bfloat16(extensions) and onednn:
        return (cfg.replace(mixed_precision=True, mixed_precision_dtype="bfloat16"),
                "bfloat16 mixed precision: this CPU computes in it (model.bfloat16_on_cpu; "
                "--set model.bfloat16_on_cpu=false trains in float32)")
    return cfg, f"float32: {_why_not_bfloat16(extensions)}, so model.bfloat16_on_cpu leaves mixed precision off"


def on_cpu(cfg: ModelConfig, extensions: Optional[Sequence[str]], onednn: bool) -> Tuple[ModelConfig, Optional[str]]:
    """The configuration a machine without a GPU trains with, and a warning when it turns mixed precision off:
    float16 always (no GPU); bfloat16 where the CPU lacks the instructions or oneDNN's kernels are off, the cases
    this project has not measured (there each bfloat16 op would convert to and from float32 in software)."""
    if not cfg.mixed_precision:
        return cfg, None
    if cfg.mixed_precision_dtype == "bfloat16":
        if cpu_has_bfloat16(extensions) and onednn:
            return cfg, None
        return (cfg.replace(mixed_precision=False),
                f"bfloat16 mixed precision requested but {_why_not_bfloat16(extensions)}: training in float32")
    hint = (" (this CPU computes in bfloat16: model.mixed_precision_dtype=bfloat16)"
            if cpu_has_bfloat16(extensions) and onednn else "")
    return (cfg.replace(mixed_precision=False),
            f"mixed_precision requested but no GPU is visible: training in float32{hint}")
