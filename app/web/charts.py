"""Geometry for the small bar charts drawn as inline SVG (templates/_charts.html).

Every bar carries its label and its value as text, so a chart reads without colour; each
chart on a page also has a table with the same numbers.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


def fit_label(label: str, columns: int = 26) -> str:
    """Return `label` cut to `columns` Latin letters' width (a Chinese character is two),
    with an ellipsis when cut: the space a bar's label has."""
    width, out = 0, []
    for char in label:
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if width > columns:
            return "".join(out).rstrip() + "…"
        out.append(char)
    return label


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    text_x: float  # where the value is written
    text_y: float
    label_x: float
    label_y: float
    show_label: bool = True
    css: str = ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    axis_y: float  # the baseline (columns) or the left edge of the bars (rows)
    maximum: int


def bar_rows(items, *, width: int = 640, row: int = 26, label_width: int = 190,
             css=None) -> Chart:
    """Lay out horizontal bars, one row per (label, value), the label left, the value right."""
    items = list(items)
    top = 6
    maximum = max([v for _, v in items] or [0])
    area = width - label_width - 60
    bars = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        length = area * value / maximum if maximum else 0
        bars.append(Bar(str(label), value, label_width, y + 4, max(length, 0), row - 8,
                        label_width + length + 6, y + row / 2 + 4, label_width - 8,
                        y + row / 2 + 4, css=css(label) if css else ""))
    return Chart(width, top * 2 + row * len(items), bars, label_width, maximum)


def bar_columns(items, *, width: int = 640, height: int = 220, label_every: int = 5) -> Chart:
    """Lay out vertical columns, one per (label, value), values above, some labels below."""
    items = list(items)
    left, right, top, bottom = 8, 8, 22, height - 28
    maximum = max([v for _, v in items] or [0])
    step = (width - left - right) / max(1, len(items))
    bars = []
    for i, (label, value) in enumerate(items):
        h = (bottom - top) * value / maximum if maximum else 0
        x = left + i * step
        show = i % label_every == 0 or i == len(items) - 1
        bars.append(Bar(str(label), value, x + 1, bottom - h, max(step - 2, 1), h,
                        x + step / 2, bottom - h - 4, x + step / 2, bottom + 16, show))
    return Chart(width, height, bars, bottom, maximum)
