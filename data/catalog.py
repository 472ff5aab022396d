"""Read and validate a product catalog drop (pure Python + Pillow, no TensorFlow).

Two layouts are accepted:

* **table**: ``<root>/styles.csv`` with an ``id`` column and attribute columns. The image is the path in an
  image column (``image``, ``image_path``, ``path``, ``file`` or ``filename``, relative to ``<root>``) when the
  table has one, else ``<root>/images/<id>.jpg`` (``.jpeg``/``.png`` are tried too).
* **folder**: ``<root>/<attr-value>/*.jpg``; the folder name becomes the attribute ``folder_attribute``
  (default ``articleType``) and the file stem the id.

Every row ends up either *kept* or *quarantined* with a reason code, never dropped silently:
``kept + quarantined == rows``. Reason codes: see ``REASONS``.
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import hashlib
import io
import json
import os
import pathlib
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from PIL import Image

DEFAULT_CONDITION_ATTRIBUTES: Tuple[str, ...] = ("articleType", "baseColour")
DEFAULT_MIN_SIDE = 32
TABLE_NAME = "styles.csv"
IMAGES_DIR = "images"
MANIFEST_NAME = "manifest.json"
QUARANTINE_NAME = "quarantine.csv"
MISSING = "NA"
ID_COLUMN = "id"
IMAGE_COLUMNS = ("image", "image_path", "path", "file", "filename")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Formats that tf.io.decode_image can read; anything else would fail later inside Transform.
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "BMP")

REASONS = (
    "malformed_row",     # wrong field count or a line the CSV parser cannot read
    "missing_id",        # empty id
    "duplicate_id",      # id seen on an earlier row (the first one is kept)
    "missing_attribute", # a condition attribute is empty or NA
    "missing_file",      # image file does not exist
    "unreadable_image",  # Pillow cannot fully decode it (corrupt, truncated, unsupported format)
    "too_small",         # width or height below min_side
)


@dataclasses.dataclass(frozen=True)
class CatalogRecord:
    """One usable catalog row. ``attributes`` holds every attribute column as a string (missing = ``NA``)."""
    row: int
    id: str
    image_path: str
    width: int
    height: int
    image_sha256: str
    attributes: Dict[str, str]

    def read_bytes(self) -> bytes:
        with open(self.image_path, "rb") as f:
            return f.read()


@dataclasses.dataclass(frozen=True)
class QuarantineRecord:
    row: int
    id: str
    reason: str
    detail: str


@dataclasses.dataclass
class CatalogResult:
    catalog_dir: str
    layout: str
    columns: List[str]  # attribute columns, in table order (id and image-path columns excluded)
    condition_attributes: Tuple[str, ...]
    min_side: int
    kept: List[CatalogRecord]
    quarantined: List[QuarantineRecord]

    @property
    def rows(self) -> int:
        return len(self.kept) + len(self.quarantined)

    @property
    def counts(self) -> Dict[str, int]:
        """``{"rows", "kept", "quarantined", <reason>: n, ...}`` (reasons only where n > 0)."""
        counts = {"rows": self.rows, "kept": len(self.kept), "quarantined": len(self.quarantined)}
        counts.update(sorted(collections.Counter(q.reason for q in self.quarantined).items()))
        return counts

    @property
    def fingerprint(self) -> str:
        return catalog_fingerprint(self.kept, self.columns)

    def summary(self) -> str:
        reasons = {k: v for k, v in self.counts.items() if k in REASONS}
        detail = ", ".join(f"{k}: {v}" for k, v in reasons.items())
        return (f"catalog: kept {len(self.kept)} rows, quarantined {len(self.quarantined)}"
                + (f" ({detail})" if detail else ""))

    def manifest(self) -> dict:
        """JSON-able description of the drop: config, counts, fingerprint and one entry per kept image."""
        root = pathlib.Path(self.catalog_dir)
        return {
            "fingerprint": self.fingerprint,
            "layout": self.layout,
            "columns": self.columns,
            "condition_attributes": list(self.condition_attributes),
            "min_side": self.min_side,
            "counts": self.counts,
            "images": [
                {"id": r.id, "path": _relative(r.image_path, root), "sha256": r.image_sha256,
                 "width": r.width, "height": r.height}
                for r in sorted(self.kept, key=lambda r: r.id)
            ],
        }


def _relative(path: str, root: pathlib.Path) -> str:
    try:
        return pathlib.Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def catalog_fingerprint(records: Iterable[CatalogRecord], columns: Sequence[str]) -> str:
    """sha256 over the sorted (id, image sha256, attribute values) of the kept records."""
    digest = hashlib.sha256()
    for record in sorted(records, key=lambda r: r.id):
        fields = [record.id, record.image_sha256] + [f"{c}={record.attributes.get(c, MISSING)}" for c in columns]
        digest.update(json.dumps(fields, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def detect_layout(catalog_dir: os.PathLike | str) -> str:
    root = pathlib.Path(catalog_dir)
    if (root / TABLE_NAME).is_file():
        return "table"
    if root.is_dir() and any(p.is_dir() for p in root.iterdir()):
        return "folder"
    raise ValueError(f"{root}: neither {TABLE_NAME} nor <attr-value>/*.jpg folders found; "
                     f"point at a catalog drop in one of the two layouts")


def read_catalog(catalog_dir: os.PathLike | str,
                 condition_attributes: Sequence[str] = DEFAULT_CONDITION_ATTRIBUTES,
                 min_side: int = DEFAULT_MIN_SIDE,
                 layout: str = "auto",
                 folder_attribute: str = "articleType") -> CatalogResult:
    """Validates every row of a catalog drop; returns kept and quarantined records.

    Raises ValueError for configuration errors (no catalog found, no id column, a condition attribute that
    is not a column), since those are not per-row problems.
    """
    root = pathlib.Path(catalog_dir)
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "table":
        columns, candidates, quarantined = _table_candidates(root)
    elif layout == "folder":
        columns, candidates, quarantined = _folder_candidates(root, folder_attribute)
    else:
        raise ValueError(f"layout must be 'auto', 'table' or 'folder', got {layout!r}")
    unknown = [a for a in condition_attributes if a not in columns]
    if unknown:
        raise ValueError(f"condition attribute(s) {unknown} are not columns of {root} (columns: {columns})")

    kept: List[CatalogRecord] = []
    seen_ids: Dict[str, int] = {}
    for row, row_id, attributes, image_path in candidates:
        reason_detail = _check_row(row_id, attributes, condition_attributes, seen_ids, row)
        if reason_detail is None:
            seen_ids[row_id] = row
            reason_detail, image_info = _check_image(image_path, min_side)
        if reason_detail is not None:
            quarantined.append(QuarantineRecord(row, row_id, *reason_detail))
            continue
        width, height, sha = image_info
        kept.append(CatalogRecord(row=row, id=row_id, image_path=str(image_path), width=width, height=height,
                                  image_sha256=sha, attributes=attributes))
    quarantined.sort(key=lambda q: q.row)
    return CatalogResult(catalog_dir=str(root), layout=layout, columns=columns,
                         condition_attributes=tuple(condition_attributes), min_side=min_side,
                         kept=kept, quarantined=quarantined)


Candidate = Tuple[int, str, Dict[str, str], Optional[pathlib.Path]]


def _table_candidates(root: pathlib.Path) -> Tuple[List[str], List[Candidate], List[QuarantineRecord]]:
    table = root / TABLE_NAME
    quarantined: List[QuarantineRecord] = []
    with open(table, newline="", encoding="utf-8", errors="replace") as f:
        lines = _robust_rows(f)
        try:
            _, header = next(lines)
        except StopIteration:
            raise ValueError(f"{table} is empty") from None
        header = [h.strip() for h in header]
        if ID_COLUMN not in header:
            raise ValueError(f"{table}: no '{ID_COLUMN}' column in header {header}")
        image_column = next((c for c in IMAGE_COLUMNS if c in header), None)
        columns = [h for h in header if h not in (ID_COLUMN, image_column)]
        candidates: List[Candidate] = []
        for line_no, fields in lines:
            if isinstance(fields, str):  # the parser failed on this line
                quarantined.append(QuarantineRecord(line_no, "", "malformed_row", fields))
                continue
            if not any(field.strip() for field in fields):
                continue  # blank line: not a row
            if len(fields) != len(header):
                first = fields[0].strip() if fields else ""
                quarantined.append(QuarantineRecord(
                    line_no, first, "malformed_row",
                    f"line {line_no}: {len(fields)} fields, header has {len(header)}"))
                continue
            values = dict(zip(header, (v.strip() for v in fields)))
            row_id = values[ID_COLUMN]
            attributes = {c: (values[c] or MISSING) for c in columns}
            if image_column and values[image_column]:
                image_path: Optional[pathlib.Path] = root / values[image_column]
            else:
                image_path = _image_for_id(root, row_id) if row_id else None
            candidates.append((line_no, row_id, attributes, image_path))
    return columns, candidates, quarantined


def _robust_rows(f) -> Iterator[Tuple[int, object]]:
    """Yields (line number, fields) per CSV record; a record the parser rejects yields (line, error text)."""
    reader = csv.reader(f)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield start, f"line {start}: {e}"
            continue
        yield start, fields


def _image_for_id(root: pathlib.Path, row_id: str) -> pathlib.Path:
    for ext in IMAGE_EXTENSIONS:
        candidate = root / IMAGES_DIR / f"{row_id}{ext}"
        if candidate.exists():
            return candidate
    return root / IMAGES_DIR / f"{row_id}.jpg"


def _folder_candidates(root: pathlib.Path, folder_attribute: str
                       ) -> Tuple[List[str], List[Candidate], List[QuarantineRecord]]:
    files = sorted(p for d in root.iterdir() if d.is_dir() for p in d.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    candidates = [(i, p.stem, {folder_attribute: p.parent.name or MISSING}, p) for i, p in enumerate(files, 1)]
    return [folder_attribute], candidates, []


def _check_row(row_id: str, attributes: Dict[str, str], condition_attributes: Sequence[str],
               seen_ids: Dict[str, int], row: int) -> Optional[Tuple[str, str]]:
    if not row_id:
        return "missing_id", f"row {row}: empty id"
    if row_id in seen_ids:
        return "duplicate_id", f"id {row_id} already on row {seen_ids[row_id]}"
    for attr in condition_attributes:
        if attributes.get(attr, MISSING) in ("", MISSING):
            return "missing_attribute", f"condition attribute {attr} is empty or {MISSING}"
    return None


def _check_image(path: Optional[pathlib.Path], min_side: int
                 ) -> Tuple[Optional[Tuple[str, str]], Optional[Tuple[int, int, str]]]:
    if path is None or not path.is_file():
        return ("missing_file", f"{path} not found"), None
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # full decode: catches truncated and corrupt files, not only bad headers
            fmt, (width, height) = image.format, image.size
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError...
        return ("unreadable_image", f"{path.name}: {type(e).__name__}: {e}"), None
    if fmt not in DECODABLE_FORMATS:
        return ("unreadable_image", f"{path.name}: format {fmt} not in {DECODABLE_FORMATS}"), None
    if min(width, height) < min_side:
        return ("too_small", f"{width}x{height} < min_side {min_side}"), None
    return None, (width, height, hashlib.sha256(data).hexdigest())


def write_quarantine(path: os.PathLike | str, records: Iterable[QuarantineRecord]) -> str:
    """Writes ``row,id,reason,detail`` CSV (header always present, also when empty); returns the path."""
    path = str(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "id", "reason", "detail"])
        for q in records:
            writer.writerow([q.row, q.id, q.reason, q.detail])
    return path


def read_quarantine(path: os.PathLike | str) -> List[QuarantineRecord]:
    with open(path, newline="", encoding="utf-8") as f:
        return [QuarantineRecord(int(r["row"]), r["id"], r["reason"], r["detail"]) for r in csv.DictReader(f)]


def write_manifest(path: os.PathLike | str, result: CatalogResult) -> str:
    path = str(path)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result.manifest(), f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path
