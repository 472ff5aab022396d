"""Small real catalogs cut from a bigger one (the tests' tiny runs and the gate-margin benchmark use the same cut)."""
import csv
import os
import shutil

TEST_TYPES = ("Tshirts", "Casual Shoes", "Handbags", "Watches")


def cut_catalog(source_dir, dest, types=TEST_TYPES, per_type: int = 40, colours=None) -> str:
    """Copies the first `per_type` rows of each article type in `types` (and their images) from a table-layout
    catalog into `dest`; `colours` keeps only those base colours. Returns dest."""
    with open(os.path.join(source_dir, "styles.csv"), newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    chosen = []
    for t in types:
        matching = [r for r in rows if r["articleType"] == t and (colours is None or r["baseColour"] in colours)]
        chosen.extend(matching[:per_type])
    os.makedirs(os.path.join(dest, "images"), exist_ok=True)
    for r in chosen:
        shutil.copy(os.path.join(source_dir, "images", f"{r['id']}.jpg"), os.path.join(dest, "images"))
    with open(os.path.join(dest, "styles.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    return str(dest)
