"""Labelled PNG grids of generated and edited images (Pillow only, no TensorFlow)."""
from __future__ import annotations

import io
import os
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LABEL_WIDTH = 160
PAD = 4


def _label(row: Mapping[str, str | Sequence[str]]) -> str:
    return " / ".join(v if isinstance(v, str) else "+".join(v) for v in row.values()) or "(none)"


def compose_grid(rows: Sequence[np.ndarray], labels: Sequence[str], cell: int | None = None,
                 label_width: int = LABEL_WIDTH) -> Image.Image:
    """One row per uint8 array [K, H, W, 3], each labelled on the left; cells scaled to `cell` px."""
    if len(rows) != len(labels):
        raise ValueError(f"{len(rows)} image rows but {len(labels)} labels")
    if not rows:
        raise ValueError("no rows to draw")
    height = rows[0].shape[1]
    cell = cell or max(height, 64)
    columns = max(r.shape[0] for r in rows)
    canvas = Image.new("RGB", (label_width + columns * (cell + PAD) + PAD, len(rows) * (cell + PAD) + PAD),
                       "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for i, (images, label) in enumerate(zip(rows, labels)):
        y = PAD + i * (cell + PAD)
        draw.text((PAD, y + cell // 2 - 6), label, fill="black", font=font)
        for j, image in enumerate(np.asarray(images, dtype=np.uint8)):
            tile = Image.fromarray(image).resize((cell, cell), Image.NEAREST)
            canvas.paste(tile, (label_width + PAD + j * (cell + PAD), y))
    return canvas


def to_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def write_generate_grid(client, rows: Sequence[Mapping[str, str]], per_row: int, seed: int,
                        out_path: str | os.PathLike, truncation: float = 1.0, cell: int | None = None) -> str:
    """Generate `per_row` images per attribute combination (same seeds in every row) and save a grid."""
    images, labels = [], []
    for row in rows:
        result = client.generate(dict(row), count=per_row, seed=seed, truncation=truncation)
        images.append(result.images)
        labels.append(_label(row))
    compose_grid(images, labels, cell).save(out_path)
    return os.fspath(out_path)


def write_edit_pair(client, image_bytes: bytes | Sequence[bytes], attributes: Mapping[str, str],
                    out_path: str | os.PathLike, strengths: Sequence[float] = (1.0,),
                    cell: int | None = None, background: str | None = None) -> str:
    """A before/after strip: each input image, then its edit at every strength, one row per input.
    `background` ("white" / "keep") goes to the client's edit (None: the `edit` signature)."""
    inputs = [image_bytes] if isinstance(image_bytes, (bytes, bytearray)) else list(image_bytes)
    edits = [client.edit(inputs, attributes, strength=s, background=background) for s in strengths]
    size = edits[0].images.shape[1]
    rows, labels = [], []
    for i, raw in enumerate(inputs):
        before = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB").resize((size, size)), dtype=np.uint8)
        rows.append(np.stack([before] + [e.images[i] for e in edits]))
        wanted = {k: v for k, v in attributes.items() if v}
        if background and background != "keep":
            wanted["background"] = background
        labels.append(f"{i}: -> {_label(wanted)}")
    compose_grid(rows, labels, cell).save(out_path)
    return os.fspath(out_path)
