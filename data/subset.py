"""Small real catalogs cut from a bigger one (the tests' tiny runs and the gate-margin benchmark use the same cut)."""
import csv
import os
import shutil
from typing import Dict, List, Sequence, Tuple

TEST_TYPES = ("Tshirts", "Casual Shoes", "Handbags", "Watches")


def read_rows(source_dir) -> Tuple[List[str], List[Dict[str, str]]]:
    """(columns, rows) of a table-layout catalog's styles.csv."""
    with open(os.path.join(source_dir, "styles.csv"), newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def write_catalog(source_dir, dest, fields: Sequence[str], rows: Sequence[Dict[str, str]]) -> str:
    """A table-layout catalog at `dest` holding `rows` and their images (copied from `source_dir`); returns dest."""
    os.makedirs(os.path.join(dest, "images"), exist_ok=True)
    for r in rows:
        shutil.copy(os.path.join(source_dir, "images", f"{r['id']}.jpg"), os.path.join(dest, "images"))
    with open(os.path.join(dest, "styles.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return str(dest)


def cut_catalog(source_dir, dest, types=TEST_TYPES, per_type: int = 40, colours=None) -> str:
    """Copies the first `per_type` rows of each article type in `types` (and their images) from a table-layout
    catalog into `dest`; `colours` keeps only those base colours. Returns dest."""
    fields, rows = read_rows(source_dir)
    chosen = []
    for t in types:
        matching = [r for r in rows if r["articleType"] == t and (colours is None or r["baseColour"] in colours)]
        chosen.extend(matching[:per_type])
    return write_catalog(source_dir, dest, fields, chosen)


def without_values(source_dir, dest, drop: Dict[str, Sequence[str]]) -> Tuple[str, int]:
    """Copies a table-layout catalog without the rows that have any of `drop`'s values ({column: values}): the
    catalog as it was before those values joined it. Returns (dest, rows kept)."""
    fields, rows = read_rows(source_dir)
    unknown = [c for c in drop if c not in fields]
    if unknown:
        raise ValueError(f"styles.csv has no column {', '.join(unknown)}; columns: {', '.join(fields)}")
    kept = [r for r in rows if not any(r[c] in set(values) for c, values in drop.items())]
    return write_catalog(source_dir, dest, fields, kept), len(kept)


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Copy a catalog without some values (e.g. before it grew): "
                                                 "python -m data.subset SRC DEST --without articleType=Sunglasses,"
                                                 "Jackets --without baseColour=Orange")
    parser.add_argument("source")
    parser.add_argument("dest")
    parser.add_argument("--without", action="append", required=True, metavar="COLUMN=V1,V2")
    args = parser.parse_args(argv)
    drop = {}
    for item in args.without:
        column, _, values = item.partition("=")
        if not values:
            parser.error(f"--without takes COLUMN=V1,V2, got {item!r}")
        drop.setdefault(column, []).extend(v for v in values.split(",") if v)
    dest, kept = without_values(args.source, args.dest, drop)
    print(f"{dest}: {kept} rows kept")


if __name__ == "__main__":
    main()
