"""Build the embedded sample catalog (data/sample) from the shared product catalog.

Run once by a maintainer; the result is committed so the demo runs on a fresh machine:
    python -m data.make_sample --source ../shared/data/products --dest data/sample

Selection (deterministic): the most frequent article types and colours, up to a fixed
number of images per article type, spread over colours. Images are downscaled to
112x112 and re-encoded (JPEG q=90) so that ~2,000 products fit in < 10 MB; the demo
trains at 32-48 px, so nothing the models can use is lost.
"""
import argparse
import collections
import csv
import io
import os
import random

from PIL import Image

SIDE = 112


def select_rows(rows, num_types, num_colours, per_type, seed):
    types = [t for t, _ in collections.Counter(r["articleType"] for r in rows).most_common(num_types)]
    colours = [c for c, _ in collections.Counter(
        r["baseColour"] for r in rows if r["baseColour"] != "NA").most_common(num_colours)]
    rng = random.Random(seed)
    chosen = []
    for t in types:
        pool = [r for r in rows if r["articleType"] == t and r["baseColour"] in colours]
        by_colour = collections.defaultdict(list)
        for r in pool:
            by_colour[r["baseColour"]].append(r)
        for group in by_colour.values():
            rng.shuffle(group)
        # round-robin over colours so rare colours of a type are represented
        picked = []
        while len(picked) < per_type and any(by_colour.values()):
            for c in sorted(by_colour):
                if by_colour[c] and len(picked) < per_type:
                    picked.append(by_colour[c].pop())
        chosen.extend(picked)
    chosen.sort(key=lambda r: int(r["id"]))
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--dest", default="data/sample")
    parser.add_argument("--types", type=int, default=20)
    parser.add_argument("--colours", type=int, default=12)
    parser.add_argument("--per-type", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    with open(os.path.join(args.source, "styles.csv"), newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = list(reader)
    chosen = select_rows(rows, args.types, args.colours, args.per_type, args.seed)
    os.makedirs(os.path.join(args.dest, "images"), exist_ok=True)
    for r in chosen:
        with Image.open(os.path.join(args.source, "images", f"{r['id']}.jpg")) as im:
            im = im.convert("RGB").resize((SIDE, SIDE), Image.LANCZOS)
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=90)
        with open(os.path.join(args.dest, "images", f"{r['id']}.jpg"), "wb") as out:
            out.write(buf.getvalue())
    with open(os.path.join(args.dest, "styles.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    print(f"wrote {len(chosen)} products to {args.dest}")


if __name__ == "__main__":
    main()
