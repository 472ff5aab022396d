"""`vitrine ingest DIR`: validate a catalog drop, write its quarantine and manifest, optionally accept it as a span.

    ingest(catalog_dir, condition_attributes=("articleType", "baseColour"), min_side=32, dest=None,
           folder_attribute="articleType", layout="auto", verbose=True) -> data.catalog.CatalogResult

Without ``dest`` the drop is validated in place: ``quarantine.csv`` and ``manifest.json`` are written into it.
With ``dest`` (a span root that ``make_catalog_example_gen`` reads) the drop is copied to ``dest/span-<N+1>/``
(written under a temporary name, then renamed, so ExampleGen never sees half a span) with its quarantine and
manifest; a drop whose fingerprint equals the latest span's is not copied again. A drop with no usable row is
never accepted.

The manifest (per-image sha256) is what makes TFX's input fingerprint notice changed image bytes: the
ExampleGen input pattern covers it (see components/catalog_example_gen.py).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import sys
from typing import Optional, Sequence

from data import catalog

SPAN_RE = re.compile(r"^span-(\d+)$")


def latest_span(span_root: os.PathLike | str) -> Optional[int]:
    root = pathlib.Path(span_root)
    if not root.is_dir():
        return None
    spans = [int(m.group(1)) for p in root.iterdir() if p.is_dir() and (m := SPAN_RE.match(p.name))]
    return max(spans) if spans else None


def _span_fingerprint(span_dir: pathlib.Path) -> Optional[str]:
    try:
        with open(span_dir / catalog.MANIFEST_NAME, encoding="utf-8") as f:
            return json.load(f).get("fingerprint")
    except (OSError, ValueError):
        return None


def ingest(catalog_dir: os.PathLike | str,
           condition_attributes: Sequence[str] = catalog.DEFAULT_CONDITION_ATTRIBUTES,
           min_side: int = catalog.DEFAULT_MIN_SIDE,
           dest: Optional[os.PathLike | str] = None,
           folder_attribute: str = "articleType",
           layout: str = "auto",
           verbose: bool = True) -> catalog.CatalogResult:
    """Validates a drop and writes quarantine.csv + manifest.json (into the drop, or into the new span)."""
    say = print if verbose else (lambda *a, **k: None)
    source = pathlib.Path(catalog_dir)
    result = catalog.read_catalog(source, condition_attributes=condition_attributes, min_side=min_side,
                                  layout=layout, folder_attribute=folder_attribute)
    target = source
    if dest is not None:
        if not result.kept:
            say(f"{result.summary()}\nnot accepted: no usable row in {source}")
            _write_reports(source, result, say)
            return result
        root = pathlib.Path(dest)
        latest = latest_span(root)
        if latest is not None and _span_fingerprint(root / f"span-{latest}") == result.fingerprint:
            say(f"{result.summary()}\nunchanged: same fingerprint as {root / f'span-{latest}'}, not copied")
            return result
        target = root / f"span-{(latest or 0) + 1}"
        staging = root / f".{target.name}.incoming"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging,
                        ignore=shutil.ignore_patterns(catalog.MANIFEST_NAME, catalog.QUARANTINE_NAME))
        _write_reports(staging, result, say=None)
        os.rename(staging, target)
        say(result.summary())
        _report(target, result, say)
        say(f"accepted as {target}")
        return result
    say(result.summary())
    _write_reports(source, result, say)
    return result


def _write_reports(directory: pathlib.Path, result: catalog.CatalogResult, say) -> None:
    catalog.write_quarantine(directory / catalog.QUARANTINE_NAME, result.quarantined)
    catalog.write_manifest(directory / catalog.MANIFEST_NAME, result)
    if say:
        _report(directory, result, say)


def _report(directory: pathlib.Path, result: catalog.CatalogResult, say) -> None:
    quarantine, manifest = directory / catalog.QUARANTINE_NAME, directory / catalog.MANIFEST_NAME
    for q in result.quarantined[:20]:
        say(f"  row {q.row:>6}  {q.id or '-':<12} {q.reason:<18} {q.detail}")
    if len(result.quarantined) > 20:
        say(f"  ... {len(result.quarantined) - 20} more")
    say(f"quarantine: {quarantine}\nmanifest:   {manifest} (fingerprint {result.fingerprint[:16]})")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Exit code 0 when at least one row was kept, 1 otherwise, 2 on a configuration error."""
    parser = argparse.ArgumentParser(prog="vitrine ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", help="catalog drop: styles.csv + images/<id>.jpg, or <root>/<value>/*.jpg")
    parser.add_argument("--attributes", nargs="+", default=list(catalog.DEFAULT_CONDITION_ATTRIBUTES),
                        help="condition attributes that must be present")
    parser.add_argument("--min-side", type=int, default=catalog.DEFAULT_MIN_SIDE)
    parser.add_argument("--dest", help="span root: accept the drop as its next span-<N>")
    parser.add_argument("--folder-attribute", default="articleType",
                        help="attribute named by the folder in the <value>/*.jpg layout")
    args = parser.parse_args(argv)
    try:
        result = ingest(args.catalog, condition_attributes=args.attributes, min_side=args.min_side,
                        dest=args.dest, folder_attribute=args.folder_attribute)
    except (ValueError, OSError) as e:
        print(f"vitrine ingest: {e}", file=sys.stderr)
        return 2
    return 0 if result.kept else 1


if __name__ == "__main__":
    sys.exit(main())
