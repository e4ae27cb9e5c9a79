"""Make the baked docs' report screenshot, {{cookiecutter.project_slug}}/docs/report.png.

Bakes the demo in a scratch folder, makes ``alpine_quadratic`` fail in ``fit_model`` (as the
grid example of docs/results.md does), builds ``coastal`` and ``alpine`` and ``desert_linear``,
writes the report, opens it in headless Chromium (``tests/browser.py``), clicks the failed cell
and saves the window, its colours cut to 256 (a third of the size, the same to the eye). The failed
build's error log names files by where the scratch bake is; before the report reads it, those paths
are made relative to the project, as a reader's own project would show them, so the picture holds
nothing of this machine. Standard library only; run it with the template's venv
(``.venv/bin/python scripts/docs_screenshot.py``).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE / "tests"))
from browser import Browser  # noqa: E402 (tests/browser.py)

TARGET = TEMPLATE / "{{cookiecutter.project_slug}}" / "docs" / "report.png"
FAILURE = """    if (ctx.input_id, ctx.param_name) == ("alpine", "quadratic"):
        raise ValueError("degree 2 needs at least 3 distinct days")
"""


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    found, position = [], 8
    while position < len(png):
        (size,) = struct.unpack(">I", png[position : position + 4])
        found.append((png[position + 4 : position + 8], png[position + 8 : position + 8 + size]))
        position += 12 + size
    return found


def pixels(png: bytes) -> tuple[int, int, list[list[bytes]]]:
    """The RGB pixels of an 8-bit RGB or RGBA PNG, its filters undone."""
    parts = chunks(png)
    width, height, _, colour = struct.unpack(">IIBB", parts[0][1][:10])
    step = {2: 3, 6: 4}[colour]
    stride = width * step
    raw = zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))
    rows, previous, at = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
        at += 1 + stride
        for x in range(stride):
            a = line[x - step] if x >= step else 0
            b, c = previous[x], previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([bytes(line[x : x + 3]) for x in range(0, stride, step)])
        previous = line
    return width, height, rows


def with_256_colours(png: bytes) -> bytes:
    """The 256 commonest colours; every other pixel takes the nearest of them."""
    width, height, rows = pixels(png)
    counts = Counter(pixel for row in rows for pixel in row)
    palette = [colour for colour, _ in counts.most_common(256)]
    index = {colour: number for number, colour in enumerate(palette)}
    for colour in counts:
        if colour not in index:
            index[colour] = min(
                range(len(palette)),
                key=lambda k: sum((x - y) ** 2 for x, y in zip(colour, palette[k], strict=True)),
            )
    raw = b"".join(b"\0" + bytes(index[pixel] for pixel in row) for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"PLTE", b"".join(palette)),
            chunk(b"IDAT", zlib.compress(raw, 9)),
            chunk(b"IEND", b""),
        ]
    )


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="docs-screenshot-"))
    try:
        subprocess.run(
            [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "-o", str(scratch)],
            check=True,
            capture_output=True,
        )
        (root,) = scratch.iterdir()
        pipeline = root / "perm_builder" / "pipeline.py"
        text = pipeline.read_text()
        anchor = '    model = fit(ctx.read_json("samples.json"), ctx.params)\n'
        if text.count(anchor) != 1:  # the demo changed: fail rather than picture no failure
            raise SystemExit(f"{pipeline}: no line {anchor.strip()!r} to inject the failure before")
        pipeline.write_text(text.replace(anchor, FAILURE + anchor))
        builder = [sys.executable, "-m", "perm_builder.builder"]
        selections = (
            ["--input-id", "coastal,alpine"],
            ["--input-id", "desert", "--param-name", "linear"],
        )
        for selection in selections:
            build = [*builder, "build", "--output-folder", "output", "--quiet", *selection]
            subprocess.run(build, cwd=root, capture_output=True, check=False)  # one fails
        for log in (root / "output").rglob("*.log"):  # tracebacks: paths from the project
            log.write_text(log.read_text().replace(f"{root}/", ""))
        written = subprocess.run(
            [*builder, "report"], cwd=root, capture_output=True, text=True, check=True
        )
        page = Path(written.stdout.strip())
        with Browser(1024, 800) as chromium:
            chromium.open(page)
            chromium.wait_for("return window.reportReady")
            chromium.click('#gridbody .cell[data-id="alpine_quadratic"]')
            shot = chromium.screenshot(scratch / "report.png")
        TARGET.parent.mkdir(exist_ok=True)
        TARGET.write_bytes(with_256_colours(shot.read_bytes()))
        print(f"{TARGET}: {TARGET.stat().st_size:,} bytes")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
