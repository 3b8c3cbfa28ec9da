"""A flame graph (SVG) from collapsed stacks ("a;b;c 12" per line, as py-spy's raw
format writes them): each frame a box as wide as its share of the samples, callers
below callees; hover a box for its name and share."""

from __future__ import annotations

import zlib
from html import escape
from pathlib import Path

WIDTH, ROW, MIN_PX = 1400.0, 16, 0.5


def _tree(collapsed: str) -> tuple[dict, int]:
    root: dict = {"n": 0, "kids": {}}
    for line in collapsed.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        node = root
        node["n"] += int(n)
        for frame in stack.split(";"):
            node = node["kids"].setdefault(frame, {"n": 0, "kids": {}})
            node["n"] += int(n)
    return root, root["n"]


def write_svg(collapsed: str, out: Path, title: str = "flame graph") -> None:
    root, total = _tree(collapsed)
    boxes: list[str] = []
    depth_max = [0]

    def walk(node: dict, x: float, depth: int) -> None:
        for name, kid in sorted(node["kids"].items()):
            w = kid["n"] / max(1, total) * WIDTH
            if w >= MIN_PX:
                depth_max[0] = max(depth_max[0], depth)
                boxes.append((x, depth, w, name, kid["n"]))
                walk(kid, x, depth + 1)
            x += w

    walk(root, 0.0, 0)
    height = (depth_max[0] + 3) * ROW
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}" '
             f'height="{height}" font-family="monospace" font-size="11">',
             f'<text x="4" y="12">{escape(title)} ({total} samples)</text>']
    for x, depth, w, name, n in boxes:
        y = height - (depth + 1) * ROW
        hue = 20 + zlib.crc32(name.split(" (", 1)[-1].encode()) % 40
        label = escape(name if len(name) * 6.5 < w else name[: max(0, int(w / 6.5) - 2)] + "..")
        parts.append(f'<g><title>{escape(name)}: {n} samples, {n / total:.1%}</title>'
                     f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" '
                     f'fill="hsl({hue},80%,60%)"/>'
                     + (f'<text x="{x + 2:.1f}" y="{y + 12}">{label}</text>' if w > 20 else "")
                     + "</g>")
    parts.append("</svg>")
    out.write_text("\n".join(parts))
