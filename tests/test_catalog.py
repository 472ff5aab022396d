"""Catalog validation: every quarantine reason pinned with real files; no row dropped silently."""
import csv
import pathlib
import shutil

import pytest
from PIL import Image

from data import catalog

HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName"


def _sample_rows(sample_catalog, n):
    with open(sample_catalog / "styles.csv", newline="") as f:
        return list(csv.DictReader(f))[:n]


def make_bad_catalog(sample_catalog: pathlib.Path, root: pathlib.Path, n_good: int = 5) -> dict:
    """A table catalog with n_good good rows plus one row per quarantine reason; returns {reason: id}."""
    (root / "images").mkdir(parents=True)
    lines = [HEADER]
    for r in _sample_rows(sample_catalog, n_good):
        shutil.copy(sample_catalog / "images" / f"{r['id']}.jpg", root / "images" / f"{r['id']}.jpg")
        lines.append(",".join(r[c] for c in HEADER.split(",")))
    good = _sample_rows(sample_catalog, 1)[0]
    src = sample_catalog / "images" / f"{good['id']}.jpg"
    data = src.read_bytes()
    (root / "images" / "900001.jpg").write_bytes(data[: len(data) // 2])  # truncated JPEG
    (root / "images" / "900002.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg" * 10)  # garbage
    Image.new("RGB", (8, 8), "red").save(root / "images" / "900003.jpg")  # tiny
    shutil.copy(src, root / "images" / "900005.jpg")
    shutil.copy(src, root / "images" / "900006.jpg")
    lines += [
        "900001,Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,truncated",
        "900002,Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,garbage",
        "900003,Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,tiny",
        "900004,Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,no file",
        "900005,Men,Apparel,Topwear,Tshirts,NA,Fall,2011,Casual,NA colour",
        "900006,Men,Apparel,Topwear,Tshirts,Black,NA,NA,,NA season is fine",
        f"{good['id']},Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,duplicate",
        "900007,Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,Too, many, commas",
        ",Men,Apparel,Topwear,Tshirts,Black,Fall,2011,Casual,no id",
    ]
    (root / "styles.csv").write_text("\n".join(lines) + "\n")
    return {"unreadable_image": ["900001", "900002"], "too_small": ["900003"], "missing_file": ["900004"],
            "missing_attribute": ["900005"], "duplicate_id": [good["id"]], "malformed_row": ["900007"],
            "missing_id": [""]}


def test_every_quarantine_reason_is_pinned(sample_catalog, tmp_path):
    expected = make_bad_catalog(sample_catalog, tmp_path / "drop")
    result = catalog.read_catalog(tmp_path / "drop")
    got = {}
    for q in result.quarantined:
        got.setdefault(q.reason, []).append(q.id)
    assert got == expected
    assert result.rows == 5 + 9  # good rows + one line per extra row
    assert len(result.kept) + len(result.quarantined) == result.rows
    assert result.counts["kept"] == 6 and result.counts["unreadable_image"] == 2
    by_reason = {q.reason: q for q in result.quarantined}
    # line numbers are file lines (header = 1), so a person can open the CSV at that line
    assert by_reason["malformed_row"].row == 14 and "line 14" in by_reason["malformed_row"].detail
    assert "12 fields" in by_reason["malformed_row"].detail
    assert "8x8" in by_reason["too_small"].detail
    # non-condition attributes keep NA; empty becomes NA
    na_row = next(r for r in result.kept if r.id == "900006")
    assert na_row.attributes["season"] == "NA" and na_row.attributes["usage"] == "NA"
    assert set(na_row.attributes) == set(HEADER.split(",")[1:])
    assert (na_row.width, na_row.height) > (32, 32)
    assert "quarantined 8" in result.summary()


def test_min_side_and_condition_attributes_are_configurable(sample_catalog, tmp_path):
    make_bad_catalog(sample_catalog, tmp_path / "drop")
    result = catalog.read_catalog(tmp_path / "drop", condition_attributes=("articleType",), min_side=4)
    reasons = {q.reason for q in result.quarantined}
    assert "too_small" not in reasons and "missing_attribute" not in reasons
    with pytest.raises(ValueError, match="noSuchColumn"):
        catalog.read_catalog(tmp_path / "drop", condition_attributes=("noSuchColumn",))


def test_quarantine_csv_and_manifest_roundtrip(sample_catalog, tmp_path):
    make_bad_catalog(sample_catalog, tmp_path / "drop")
    result = catalog.read_catalog(tmp_path / "drop")
    path = catalog.write_quarantine(tmp_path / "out" / "quarantine.csv", result.quarantined)
    assert open(path).readline().strip() == "row,id,reason,detail"
    assert catalog.read_quarantine(path) == result.quarantined
    manifest = result.manifest()
    assert manifest["fingerprint"] == result.fingerprint and len(manifest["images"]) == 6
    assert manifest["images"][0]["path"].startswith("images/")


def test_fingerprint_tracks_image_bytes_and_attributes(sample_catalog, tmp_path):
    make_bad_catalog(sample_catalog, tmp_path / "drop")
    before = catalog.read_catalog(tmp_path / "drop").fingerprint
    assert catalog.read_catalog(tmp_path / "drop").fingerprint == before  # deterministic
    kept = catalog.read_catalog(tmp_path / "drop").kept[0]
    Image.new("RGB", (60, 80), "blue").save(kept.image_path)  # same id, new picture
    assert catalog.read_catalog(tmp_path / "drop").fingerprint != before


def test_unparsable_line_does_not_kill_the_file(tmp_path):
    root = tmp_path / "drop"
    (root / "images").mkdir(parents=True)
    for i in (1, 2):
        Image.new("RGB", (40, 40), "white").save(root / "images" / f"{i}.jpg")
    # a NUL byte makes Python's csv module raise on that line only
    (root / "styles.csv").write_bytes(b"id,articleType,baseColour\n1,Tshirts,Red\n3,Sh\x00irts,Blue\n2,Jeans,Blue\n")
    result = catalog.read_catalog(root)
    assert [r.id for r in result.kept] == ["1", "2"]
    assert [(q.row, q.reason) for q in result.quarantined] == [(3, "malformed_row")]


def test_image_path_column(tmp_path):
    root = tmp_path / "drop"
    (root / "pics").mkdir(parents=True)
    Image.new("RGB", (40, 50), "white").save(root / "pics" / "a.png")
    (root / "styles.csv").write_text("id,image,articleType,baseColour\nx1,pics/a.png,Tshirts,Red\n")
    result = catalog.read_catalog(root)
    assert result.columns == ["articleType", "baseColour"]
    assert [(r.id, r.width, r.height) for r in result.kept] == [("x1", 40, 50)]


def test_folder_layout(sample_catalog, tmp_path):
    root = tmp_path / "folders"
    rows = _sample_rows(sample_catalog, 6)
    for r in rows:
        (root / r["articleType"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_catalog / "images" / f"{r['id']}.jpg", root / r["articleType"] / f"{r['id']}.jpg")
    (root / "Tshirts").mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(root / "Tshirts" / "tiny.jpg")
    (root / "Tshirts" / "broken.jpg").write_bytes(b"not an image")
    (root / "notes.txt").write_text("ignored: not in a folder")
    assert catalog.detect_layout(root) == "folder"
    result = catalog.read_catalog(root, condition_attributes=("category",), folder_attribute="category")
    assert result.layout == "folder" and result.columns == ["category"]
    assert {r.id: r.attributes["category"] for r in result.kept} == {r["id"]: r["articleType"] for r in rows}
    assert sorted((q.id, q.reason) for q in result.quarantined) == [("broken", "unreadable_image"),
                                                                    ("tiny", "too_small")]
    assert result.rows == 8


def test_sample_catalog_is_clean(sample_catalog):
    result = catalog.read_catalog(sample_catalog)
    assert result.counts["rows"] == 2000 and not result.quarantined
