"""data.ingest: reports written, spans accepted, unchanged drops not copied twice, CLI exit codes."""
import csv
import json

from PIL import Image

from data import catalog, ingest
from test_catalog import make_bad_catalog


def test_ingest_in_place_writes_quarantine_and_manifest(sample_catalog, tmp_path, capsys):
    drop = tmp_path / "drop"
    make_bad_catalog(sample_catalog, drop)
    result = ingest.ingest(drop)
    out = capsys.readouterr().out
    assert "catalog: kept 6 rows, quarantined 8" in out and "too_small" in out
    with open(drop / "quarantine.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 8
    manifest = json.loads((drop / "manifest.json").read_text())
    assert manifest["fingerprint"] == result.fingerprint and manifest["counts"]["rows"] == 14
    assert {m["id"] for m in manifest["images"]} == {r.id for r in result.kept}


def test_ingest_into_span_root(sample_catalog, tmp_path):
    drop, spans = tmp_path / "drop", tmp_path / "spans"
    make_bad_catalog(sample_catalog, drop)
    ingest.ingest(drop, dest=spans, verbose=False)
    assert ingest.latest_span(spans) == 1
    assert (spans / "span-1" / "styles.csv").exists() and (spans / "span-1" / "manifest.json").exists()
    assert not (drop / "manifest.json").exists()  # the source drop is left alone

    ingest.ingest(drop, dest=spans, verbose=False)  # same content: no new span
    assert ingest.latest_span(spans) == 1

    kept = catalog.read_catalog(drop).kept[0]
    Image.new("RGB", (64, 64), "green").save(kept.image_path)  # an image changed in place
    ingest.ingest(drop, dest=spans, verbose=False)
    assert sorted(p.name for p in spans.iterdir()) == ["span-1", "span-2"]
    fingerprints = [json.loads((spans / s / "manifest.json").read_text())["fingerprint"] for s in ("span-1", "span-2")]
    assert fingerprints[0] != fingerprints[1]


def test_empty_drop_is_not_accepted(tmp_path):
    drop = tmp_path / "drop"
    (drop / "images").mkdir(parents=True)
    (drop / "styles.csv").write_text("id,articleType,baseColour\n1,Tshirts,Red\n")
    assert ingest.main([str(drop), "--dest", str(tmp_path / "spans")]) == 1
    assert ingest.latest_span(tmp_path / "spans") is None
    assert ingest.main([str(tmp_path / "nowhere")]) == 2


def test_main_ok(sample_catalog, tmp_path):
    drop = tmp_path / "drop"
    make_bad_catalog(sample_catalog, drop)
    assert ingest.main([str(drop), "--attributes", "articleType", "--min-side", "4"]) == 0
    reasons = {q.reason for q in catalog.read_quarantine(drop / "quarantine.csv")}
    assert "too_small" not in reasons and "missing_attribute" not in reasons
