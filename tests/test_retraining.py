"""Retraining on new spans, with the real pipeline (`tiny` preset, shortened): one sequence on one work dir.

span-1 (3 types, real photos) -> v1 pushed; span-2 (span-1 + more rows of the same types and colours, accepted with
`data.ingest.ingest(dest=span_root)`) -> the Trainer warm-starts from v1 (same weights before training), the
GanEvaluator compares against v1, v2 is pushed iff blessed; span-3 adds an article type never seen before ->
the run stops at AnomalyGate (before Transform) with a message naming the value, because later runs validate
against the curated schema kept from the first run (TFDV's schema inferred from span-3 alone would accept it);
accepted (`--accept-new-values`), the same spans train with a grown vocabulary: every value the base knew keeps its
rows (models/warm_start_vocab.py) and the evaluator compares with the base on the values the base knows.
"""
import glob
import json
import os

import pytest

from data.subset import read_rows, write_catalog
from pipeline.presets import get_preset

pytestmark = pytest.mark.slow

TYPES = ("Tshirts", "Casual Shoes", "Watches")
NEW_TYPE = "Handbags"
PER_TYPE_1, PER_TYPE_2 = 40, 60

# 30 steps do not reach the tiny preset's quality bar; this test is about the retraining mechanics, so the absolute
# bar is loose (v1 must be blessed to become the base of v2); v2 is still compared with v1 (baseline tolerance).
PRESET_OVERRIDES = {"model.train_steps": 30, "model.judge_steps": 40, "eval_num_samples": 48, "eval_num_edits": 16,
                    "thresholds": {"fid_ratio": {"max": 1e6}}}


def _drops(sample_dir):
    """span-1 rows; span-2 = span-1 + more rows with span-1's types and colours; span-3 = span-2 + a new type."""
    fields, rows = read_rows(sample_dir)
    span1 = [r for t in TYPES for r in [x for x in rows if x["articleType"] == t][:PER_TYPE_1]]
    colours = {r["baseColour"] for r in span1}
    taken = {r["id"] for r in span1}
    more = []
    for t in TYPES:
        extra = [x for x in rows if x["articleType"] == t and x["id"] not in taken and x["baseColour"] in colours]
        more.extend(extra[:PER_TYPE_2 - PER_TYPE_1])
    span2 = span1 + more
    new = [x for x in rows if x["articleType"] == NEW_TYPE and x["baseColour"] in colours][:12]
    assert more and new
    return fields, span1, span2, span2 + new


def _summary(model_uri):
    with open(os.path.join(model_uri, "Format-Serving", "assets.extra", "vitrine.json")) as f:
        return json.load(f)


def _trainer_models(pipeline_root):
    """Trainer model artifact dirs, oldest first."""
    found = glob.glob(os.path.join(pipeline_root, "Trainer", "model", "*"))
    return sorted((p for p in found if os.path.basename(p).isdigit()), key=lambda p: int(os.path.basename(p)))


def _remapped_checksums(base_model, run_model, summary):
    """Checksums of `base_model`'s networks warm-started into `run_model`'s vocabularies (what its Trainer loaded)."""
    from models.config import ModelConfig
    from models.training import build_gan, warm_start, weights_checksum

    cfg = ModelConfig.from_dict(summary["config"])
    gan = build_gan(cfg, summary["vocab_sizes"])
    files = {a: os.path.join(run_model, "Format-Serving", "assets", a) for a in cfg.condition_attributes}
    loaded, _ = warm_start(gan, os.path.join(base_model, "Format-Serving"), files)
    return {name: weights_checksum(getattr(gan, name)) for name in loaded}


def _metrics_json(run):
    with open(os.path.join(os.path.dirname(run.report), "metrics.json")) as f:
        return json.load(f)


def _pushed_versions(serving_dir):
    return sorted(os.listdir(serving_dir)) if os.path.isdir(serving_dir) else []


def _message_chain(error):
    texts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


@pytest.fixture(scope="module")
def retraining(tmp_path_factory, sample_catalog):
    """Runs span-1, span-2 and span-3 in order on one work dir; returns what each left behind."""
    from data.ingest import ingest
    from pipeline.local_runner import run_local
    from pipeline.runs import latest_run

    root = tmp_path_factory.mktemp("retraining")
    span_root, work = root / "spans", str(root / "work")
    span_root.mkdir()
    preset = get_preset("tiny", PRESET_OVERRIDES)
    fields, span1, span2, span3 = _drops(sample_catalog)
    out = {"root": root, "span1": span1, "span2": span2}

    ingest(write_catalog(sample_catalog, root / "drop1", fields, span1), dest=span_root, verbose=False)
    assert sorted(os.listdir(span_root)) == ["span-1"]
    paths = run_local(str(span_root), work, preset)
    out["paths"] = paths
    out["run1"] = latest_run(paths["metadata_path"])
    out["pushed1"] = _pushed_versions(paths["serving_model_dir"])
    with open(paths["curated_schema"]) as f:
        out["curated_after_1"] = f.read()

    ingest(write_catalog(sample_catalog, root / "drop2", fields, span2), dest=span_root, verbose=False)
    assert sorted(os.listdir(span_root)) == ["span-1", "span-2"]
    run_local(str(span_root), work, preset)
    out["run2"] = latest_run(paths["metadata_path"])
    out["pushed2"] = _pushed_versions(paths["serving_model_dir"])

    ingest(write_catalog(sample_catalog, root / "drop3", fields, span3), dest=span_root, verbose=False)
    try:
        run_local(str(span_root), work, preset)
        out["error3"] = None
    except Exception as error:  # noqa: BLE001 - whatever LocalDagRunner wraps it in, the message must name the value
        out["error3"] = error
    out["run3"] = latest_run(paths["metadata_path"])
    out["pushed3"] = _pushed_versions(paths["serving_model_dir"])
    with open(paths["curated_schema"]) as f:
        out["curated_after_3"] = f.read()

    # The team accepts the new type: the run warm-starts across the grown vocabulary and compares against the base.
    run_local(str(span_root), work, preset, accept_new_values=True)
    out["run4"] = latest_run(paths["metadata_path"])
    out["pushed4"] = _pushed_versions(paths["serving_model_dir"])
    return out


def test_first_span_pushes_v1_and_keeps_a_curated_schema(retraining):
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    run1 = retraining["run1"]
    assert run1.blessed, run1.reasons
    assert retraining["pushed1"] == [run1.pushed_version]
    assert _metrics_json(run1)["baseline"] is None  # nothing blessed before the first run
    schema = text_format.Parse(retraining["curated_after_1"], schema_pb2.Schema())
    features = {f.name: f for f in schema.feature}
    domains = {d.name: set(d.value) for d in schema.string_domain}
    assert domains[features["articleType"].domain] == set(TYPES)
    assert domains[features["baseColour"].domain] == {r["baseColour"] for r in retraining["span1"]}
    # ids change with every drop: no pinned string values (TFDV may keep an int_domain for numeric-looking ids)
    assert features["id"].WhichOneof("domain_info") not in ("domain", "string_domain")
    assert set(domains) == {"articleType", "baseColour"}


def test_second_span_warm_starts_from_v1_and_compares_against_it(retraining):
    paths = retraining["paths"]
    run1, run2 = retraining["run1"], retraining["run2"]
    assert run2.run_id != run1.run_id
    assert "ImportSchemaGen" in run2.state_by_component  # validated against the curated schema
    v1_model, v2_model = _trainer_models(paths["pipeline_root"])[:2]  # the third is the accepted run's
    v1, v2 = _summary(v1_model), _summary(v2_model)
    assert v1["warm_started"] == []
    assert set(v2["warm_started"]) == {"generator", "ema_generator", "editor", "ema_editor", "discriminator"}
    assert os.path.realpath(v2["warm_start_from"]).startswith(os.path.realpath(v1_model))
    # span-2's extra rows shift the colours' counts, so Transform renumbered them: before session 60 v2 loaded
    # v1's colour rows in v1's order (each colour drew another's look) and this test saw equal checksums.
    change = v2["warm_start_vocabulary"]
    assert change["baseColour"]["renumbered"] and not change["baseColour"]["added"], change
    assert change["articleType"] == {"added": [], "dropped": [], "renumbered": False}
    # The weights loaded before training are v1's exported weights, each colour's rows at its new id.
    assert v2["warm_start_checksums"] == _remapped_checksums(v1_model, v2_model, v2)
    assert v2["warm_start_checksums"]["generator"] != v1["exported_checksums"]["generator"]
    # Then it trained, carrying v1's step counts on (its moving averages go on where v1's were), and its judge
    # checked v1's weights at step 0, before the first step: the generator's pick may keep them (session 59).
    assert v2["steps"] > 0 and v2["warm_start_network_steps"] == v1["network_steps"]
    monitor = v2["judge_monitor"]
    assert monitor["history"][0]["step"] == 0 and all(check["step"] > 0 for check in monitor["history"][1:])
    loaded = v2["warm_start_checksums"]["generator"]
    if monitor["restored"].get("generator") == 0:  # no later check beat v1's generator: exported as loaded ...
        assert v2["exported_checksums"]["generator"] == loaded
        assert monitor["unpicked_checkpoint"]  # ... and the weights it trained on to were kept beside the pick
    else:
        assert v2["exported_checksums"]["generator"] != loaded

    metrics2 = _metrics_json(run2)
    assert metrics2["baseline"], "the evaluator got no baseline (the last blessed model, v1)"
    assert set(metrics2["baseline"]) & set(metrics2["metrics"])

    # Pushed iff blessed.
    if run2.blessed:
        assert run2.pushed_version and run2.pushed_version not in retraining["pushed1"]
        assert retraining["pushed2"] == sorted(retraining["pushed1"] + [run2.pushed_version])
    else:
        assert run2.pushed_version is None
        assert retraining["pushed2"] == retraining["pushed1"]


def test_new_category_stops_before_transform_naming_the_value(retraining):
    error = retraining["error3"]
    assert error is not None, "a span with an unknown articleType must stop the run"
    chain = _message_chain(error)
    assert NEW_TYPE in chain and "articleType" in chain, chain
    run3 = retraining["run3"]
    assert "Transform" not in run3.state_by_component or run3.state_by_component["Transform"] != "COMPLETE", \
        run3.state_by_component
    assert "Trainer" not in run3.state_by_component or run3.state_by_component["Trainer"] != "COMPLETE"
    assert retraining["pushed3"] == retraining["pushed2"]
    assert retraining["curated_after_3"] == retraining["curated_after_1"]  # only --accept-new-values changes it


def test_accepted_new_type_warm_starts_across_the_grown_vocabulary(retraining):
    run4 = retraining["run4"]
    paths = retraining["paths"]
    models = _trainer_models(paths["pipeline_root"])
    assert len(models) == 3  # v1, v2, and this run's (span-3 never reached the Trainer)
    v4 = _summary(models[-1])
    assert v4["vocab_sizes"]["articleType"] == len(TYPES) + 1
    # Every network carried over: before session 60 the grown vocabulary fitted none of them (all trained afresh).
    assert set(v4["warm_started"]) == {"generator", "ema_generator", "editor", "ema_editor", "discriminator"}
    change = v4["warm_start_vocabulary"]
    assert change["articleType"]["added"] == [NEW_TYPE] and change["articleType"]["dropped"] == []
    # The base cannot draw the new type, so its weights are not checked at step 0 (no pick can export them).
    assert all(check["step"] > 0 for check in v4["judge_monitor"]["history"])
    assert change["baseColour"]["added"] == [] and change["baseColour"]["dropped"] == []

    # The base cannot draw the new type: before session 60 scoring it crashed the Evaluator ("Unknown articleType").
    metrics4 = _metrics_json(run4)
    scope = metrics4["baseline_scope"]
    assert scope["values_the_baseline_lacks"] == {"articleType": [NEW_TYPE]}
    assert 0 < scope["eval_images"] < scope["eval_images_all"]
    assert metrics4["baseline"] and set(metrics4["compared"]) == set(metrics4["baseline"])
    with open(run4.report, encoding="utf-8") as f:
        assert "trained before these values joined the catalog" in f.read()
    if run4.blessed:
        assert retraining["pushed4"] == sorted(retraining["pushed3"] + [run4.pushed_version])
    else:
        assert run4.pushed_version is None and retraining["pushed4"] == retraining["pushed3"]
