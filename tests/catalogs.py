"""Small real catalogs for tests, cut from the embedded sample (real product photos)."""
import csv
import os
import shutil


def make_small_catalog(sample_dir, dest, types=("Tshirts", "Casual Shoes", "Handbags", "Watches"),
                       per_type: int = 40, colours=None) -> str:
    """Copies `per_type` rows of each article type (and their images) into dest; returns dest."""
    with open(os.path.join(sample_dir, "styles.csv"), newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    chosen = []
    for t in types:
        matching = [r for r in rows if r["articleType"] == t and (colours is None or r["baseColour"] in colours)]
        chosen.extend(matching[:per_type])
    os.makedirs(os.path.join(dest, "images"), exist_ok=True)
    for r in chosen:
        shutil.copy(os.path.join(sample_dir, "images", f"{r['id']}.jpg"), os.path.join(dest, "images"))
    with open(os.path.join(dest, "styles.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    return str(dest)
