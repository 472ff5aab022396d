"""models/editor_watch.py: a saturated keep-mask is reported once per stretch, with the steps it lasted."""
import logging

from models.editor_watch import EditorIdentityWatch


def test_a_collapsed_stretch_is_warned_once_and_counted(caplog):
    watch = EditorIdentityWatch()
    with caplog.at_level(logging.INFO, logger="vitrine.editor_watch"):
        for step, mask in ((50, 0.5), (100, 0.995), (150, 1.0), (200, 0.999), (250, 0.6), (300, 0.7)):
            watch.update(step, mask)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "steps 51-100" in warnings[0].getMessage()
    assert any("edits again at step 250" in r.getMessage() and "150 steps" in r.getMessage() for r in caplog.records)
    assert watch.summary() == {"identity_steps": 150, "identity_stretches": [[51, 200]], "collapsed_at_end": False}


def test_a_run_that_ends_collapsed_says_so_and_a_resumed_run_counts_from_its_start():
    watch = EditorIdentityWatch(start_step=1000)
    for step, mask in ((1050, 0.3), (1100, 0.99), (1150, 1.0)):
        watch.update(step, mask)
    assert watch.summary() == {"identity_steps": 100, "identity_stretches": [[1051, 1150]], "collapsed_at_end": True}
    healthy = EditorIdentityWatch()
    for step in (20, 40, 60):
        healthy.update(step, 0.4)
    assert healthy.summary() == {"identity_steps": 0, "identity_stretches": [], "collapsed_at_end": False}
