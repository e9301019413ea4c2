"""Tests in a real browser: Debian's chromium, headless, and what it gives back read here.

``chromium`` runs it with a private profile and HOME under the test's tmp_path (nothing cached
between runs, nothing of the host's read); ``Dom`` reads the DOM ``--dump-dom`` prints;
``png_pixels`` decodes the PNG ``--screenshot`` writes (zlib only, no imaging library).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)")


class Dom(HTMLParser):
    """Every element with its attributes, all text, and the text of each findings row."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: dict[int, list[str]] = {}
        self.node_rows: dict[str, list[str]] = {}  # the node table's rows, by the first cell's text
        self.hidden_rows: set[int] = set()
        self._row: int | None = None
        self._node: list[str] | None = None
        self.title = ""
        self._tag = ""
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._tag = tag
        found = dict(attrs)
        if tag == "tr" and found.get("data-row") is not None:
            self._row = int(found["data-row"] or "")
            self.rows[self._row] = []
            if "hidden" in found:
                self.hidden_rows.add(self._row)
        elif tag == "tr" and (found.get("id") or "").startswith("node-"):
            self._node = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            if self._node:
                self.node_rows[self._node[0]] = self._node
            self._row, self._node = None, None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._tag == "title":
            self.title += data
        if self._row is not None:
            self.rows[self._row].append(data)
        if self._node is not None:
            self._node.append(data)

    def by_id(self, element_id: str) -> dict[str, str | None]:
        return next(attrs for _, attrs in self.elements if attrs.get("id") == element_id)

    def row_text(self, index: int) -> str:
        return "".join(self.rows[index])

    @property
    def visible(self) -> list[int]:
        return sorted(set(self.rows) - self.hidden_rows)

    def all_text(self) -> str:
        return "".join(self.text)


def chromium(tmp_path: Path, url: str, *args: str) -> str:
    """Run the browser on ``url`` with a fresh private profile and HOME; its stdout."""
    assert CHROMIUM is not None
    run = tmp_path / f"chromium-{len(list(tmp_path.glob('chromium-*')))}"
    home = run / "home"
    home.mkdir(parents=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={run / 'profile'}",
               "--no-first-run", "--disable-extensions", "--disable-background-networking",
               "--disable-component-update", *args, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_pixels(data: bytes) -> list[bytes]:
    """Decode an 8-bit RGB or RGBA PNG (what chromium writes) into rows of RGB pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    size = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * size
    previous, rows = bytearray(stride), []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride) if kind else ():
            left = line[i - size] if i >= size else 0
            up, corner = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            else:
                guess = left + up - corner
                best = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                line[i] = (line[i] + best[2]) & 255
        rows.append(b"".join(bytes(line[x:x + 3]) for x in range(0, stride, size)))
        previous = line
    return rows
