"""The JAX ports of the training steps (bench/jax_steps.py): they run, learn and refuse what they do not port.

They time the Vitrine step on machines without TensorFlow (the lent GPUs), so a port that silently dropped a
pass, or whose gradients reached no variable, would report a throughput for a step that does not exist. Keras'
backend is fixed at import and this suite runs Keras 3 on TensorFlow, so the ports run in a child process with
KERAS_BACKEND=jax.
"""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed (requirements-dev.lock has it)")

CHILD = r"""
import json
import jax, keras, numpy as np
from bench.jax_steps import BaselineStep, FullStep
from bench.train_throughput_jax import random_batches
from pipeline.presets import get_preset

assert keras.backend.backend() == "jax", keras.backend.backend()
vocab = {"articleType": 4, "baseColour": 5}
cfg = get_preset("tiny").model.replace(batch_size=8, mode_seeking_weight=0.3, g_cls_real_floor=1.0,
                                       editor_batch_fraction=0.5, lecam_weight=0.3, ema_ramp=10.0,
                                       ema_late_ramp=4.0, ema_late_from_step=1, editor_ema_ramp=6.0)
report = {}
refused = []
for name, value in (("twin_cls_weight", 1.0), ("d_spectral_norm", True), ("editor_from_step", 5)):
    try:
        FullStep(cfg.replace(**{name: value}), vocab)
    except NotImplementedError as error:
        refused.append(name if name in str(error) else f"{name}: {error}")
report["refused"] = refused
batches = random_batches(jax.random.PRNGKey(0), 2, 8, cfg.resolution, vocab)
for label, stepper in (("full", FullStep(cfg, vocab)), ("baseline", BaselineStep(cfg, vocab))):
    state = stepper.init()
    before = jax.tree_util.tree_map(np.asarray, state)
    step = jax.jit(stepper.step, donate_argnums=(0,))
    logs = []
    for i, key in enumerate(jax.random.split(jax.random.PRNGKey(1), 2)):  # R1 due at the first step, not the second
        state, out = step(state, batches[i], key)
        logs.append({k: float(v) for k, v in out.items()})
        if label == "full" and i == 0:  # the first average: d * initial + (1 - d) * stepped, d = 2 / (ramp + 1)
            report["ema_first_step"] = {
                part: max(float(np.abs(d * np.asarray(w0) + (1.0 - d) * np.asarray(w1) - np.asarray(e)).max())
                          for w0, w1, e in zip(before[net]["vars"], state[net]["vars"], state[part]))
                for part, net, d in (("ema_g", "g", 2.0 / (cfg.ema_late_ramp + 1.0)),
                                     ("ema_e", "e", 2.0 / (cfg.editor_ema_ramp + 1.0)))}
    after = jax.tree_util.tree_map(np.asarray, state)
    nets = {"g": stepper.g, "d": stepper.d, **({"e": stepper.e, "ema_g": stepper.g, "ema_e": stepper.e}
                                                if label == "full" else {})}
    unchanged = {}
    for part, net in nets.items():
        old, new = before[part], after[part]
        old, new = (old["vars"], new["vars"]) if isinstance(old, dict) else (old, new)
        names = [v.path for v in net.model.trainable_variables]
        assert len(names) == len(old) == len(new) > 0, (part, len(names), len(old))
        unchanged[part] = [n for n, a, b in zip(names, old, new) if np.array_equal(a, b)]
    report[label] = {"logs": logs, "unchanged": unchanged}
    if label == "full":  # LeCam's anchors ride in the step's state
        report["lecam_state"] = [float(v) for v in after["lecam"]]
# one backward pass of G's + E's losses through D (the bench's lead) gives the two passes' gradients: compare
# Adam's moments after one step from the same weights, batch and key
two, one = FullStep(cfg, vocab), FullStep(cfg, vocab, one_backward=True)
key = jax.random.PRNGKey(2)
after_two, _ = jax.jit(two.step)(two.init(), batches[0], key)
after_one, _ = jax.jit(one.step)(one.init(), batches[0], key)
gaps = {}
for part in ("g", "e", "d"):
    a, b = [np.asarray(v) for v in after_two[part]["opt"]], [np.asarray(v) for v in after_one[part]["opt"]]
    scale = max(float(np.abs(x).max()) for x in a)
    gaps[part] = {"max_abs_gap": max(float(np.abs(x - y).max()) for x, y in zip(a, b)), "scale": scale}
report["one_backward"] = gaps
print("REPORT " + json.dumps(report))
"""


def test_ports_train_every_network_and_refuse_what_they_do_not_port():
    """... and the one-backward variant takes the same gradients as the TF step's two passes."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    report = json.loads(lines[-1][len("REPORT "):])
    assert report["refused"] == ["twin_cls_weight", "d_spectral_norm", "editor_from_step"]
    full = report["full"]
    for logs in full["logs"]:
        assert set(logs) == {"d_loss", "g_loss", "e_loss", "lecam"} and logs["lecam"] >= 0.0
        assert all(v == v and abs(v) < 1e4 for v in logs.values()), logs  # finite
    # every trainable variable of G, E and D moved, and both averages with them, but perhaps D's realism bias: while
    # every logit is inside the hinge's margin, the real and fake terms pull it equally both ways (the hinge's own
    # arithmetic, found by this test: its gradient came out exactly 0 on this CPU)
    assert set(full["unchanged"].pop("d")) <= {"d_linear/bias"}
    assert full["unchanged"] == {"g": [], "e": [], "ema_g": [], "ema_e": []}
    # the averages ramp as the TF step's do: G at ema_late_ramp from its step 1 (4 here, where ema_ramp is 10), E at
    # editor_ema_ramp (6; 2/11 at 10 would miss)
    assert all(gap <= 1e-6 for gap in report["ema_first_step"].values()), report["ema_first_step"]
    assert report["baseline"]["unchanged"] == {"g": [], "d": []}
    # hinge + two cross-entropies over 4 and 5 values at the start: far from the baseline's BCE of ~0.69
    assert full["logs"][0]["d_loss"] > 2.0 and 0.3 < report["baseline"]["logs"][0]["d_loss"] < 1.5
    # the one-pass gradients are the two passes' (Adam's moments hold them), to float rounding
    for part, gap in report["one_backward"].items():
        assert gap["scale"] > 0 and gap["max_abs_gap"] <= 1e-5 * gap["scale"], (part, gap)
    # LeCam (on in this config): two anchor updates held in the state, finite moving sums
    assert report["lecam_state"][2] == 2.0 and all(v == v for v in report["lecam_state"]), report["lecam_state"]
