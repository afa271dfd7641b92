"""Inline SVG charts for the HTML report, drawn in Python: no script, no network, nothing to load.

Every chart is one `<svg viewBox=...>` that scales to the page's width. Marks (bars, cells, the line)
are coloured; axes, grid and labels are grey, so "is a chart empty" is "has it no coloured pixel" (the
headless-browser test counts them). A chart without data says so in grey and draws no mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

W = 640
AXIS = "#6b7280"
GRID = "#e5e7eb"
BAR = "#2563eb"
LINE = "#ea580c"
ZERO = "#f3f4f6"
ENGAGEMENT = ("#a7f3d0", "#34d399", "#059669", "#065f46")
LOYALTY = ("#fcd34d", "#f59e0b", "#d97706", "#92400e")
HEAT_LOW, HEAT_HIGH = (147, 197, 253), (30, 58, 138)


def _svg(height: int, label: str, body: list[str]) -> str:
    return (f'<svg viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}"'
            f' xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')


def _text(x: float, y: float, s: str, anchor: str = "middle", *, size: int = 17, fill: str = AXIS) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
            f"{escape(s)}</text>")


def _empty(height: int, label: str, why: str) -> str:
    return _svg(height, label, [_text(W / 2, height / 2, why, size=20)])


def _nice_max(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above x (an axis top)."""
    if x <= 0:
        return 1.0
    scale = 1.0
    while scale * 10 < x:
        scale *= 10
    while scale > x:
        scale /= 10
    return next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= x)


def _pct_label(x: float) -> str:
    return f"{x:.0f}%" if abs(x - round(x)) < 1e-9 else f"{x:.1f}%"


def hourly(labels: Sequence[str], traffic: Sequence[float | None], conversion: Sequence[float | None]) -> str:
    """Traffic in per local hour as bars (left axis, people) and conversion as a line (right axis, %);
    both axes and the hours are titled, and every label lies inside the drawing (none at its edge)."""
    label = "traffic in and conversion by hour"
    if all(t is None for t in traffic):
        return _empty(280, label, "no traffic reported in this period")
    h, left, right, top, bottom = 280, 74, 84, 14, 52
    pw, ph = W - left - right, h - top - bottom
    n = len(labels)
    slot = pw / n
    tmax = _nice_max(max(t or 0 for t in traffic))
    cmax = _nice_max(max((c or 0) for c in conversion) * 100) / 100 or 1.0
    out = []
    for i in range(5):
        y = top + ph - ph * i / 4
        out.append(f'<line x1="{left}" x2="{W - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y + 5, f"{tmax * i / 4:g}", "end"))
        out.append(_text(W - right + 6, y + 5, _pct_label(cmax * 100 * i / 4), "start"))
    for i, (lab, t) in enumerate(zip(labels, traffic, strict=True)):
        x = left + i * slot
        if t:
            bh = ph * t / tmax
            out.append(f'<rect x="{x + slot * 0.15:.1f}" y="{top + ph - bh:.1f}" width="{slot * 0.7:.1f}"'
                       f' height="{bh:.1f}" fill="{BAR}"><title>{escape(lab)}: {t:g} in</title></rect>')
        if i % 3 == 0:
            out.append(_text(x + slot / 2, top + ph + 22, lab))
    out.append(_text(left + pw / 2, h - 6, "local hour", size=16))
    out.append(_axis_title(18, top + ph / 2, "people in"))
    out.append(_axis_title(W - 14, top + ph / 2, "conversion"))
    points = [(left + (i + 0.5) * slot, top + ph - ph * c / cmax) for i, c in enumerate(conversion)
              if c is not None]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2.5"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}"/>' for x, y in points]
    return _svg(h, label, out)


def _axis_title(x: float, y: float, s: str) -> str:
    """A vertical axis title, read bottom to top."""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="16" text-anchor="middle" fill="{AXIS}"'
            f' transform="rotate(-90 {x:.1f} {y:.1f})">{escape(s)}</text>')


def _heat(v: float, vmax: float) -> str:
    f = v / vmax if vmax else 0.0
    rgb = (round(a + (b - a) * f) for a, b in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def heat_map(rows: Sequence[tuple[str, Sequence[float | None]]]) -> str:
    """Rows (a day or a weekday) by local hour 0-23; darker is more traffic, grey is zero, blank unknown."""
    label = "traffic in by weekday and hour"
    values = [v for _, vs in rows for v in vs if v is not None]
    if not any(values):
        return _empty(120, label, "no traffic reported in this period")
    vmax = max(v for v in values if v is not None)
    left, top, cell_h = 112, 22, 28
    cw = (W - left - 4) / 24
    h = top + cell_h * len(rows) + 30
    out = [_text(left + (hr + 0.5) * cw, 16, f"{hr:02d}") for hr in range(0, 24, 3)]
    for r, (name, vs) in enumerate(rows):
        y = top + r * cell_h
        out.append(_text(left - 6, y + cell_h * 0.7, name, "end"))
        for hr, v in enumerate(vs[:24]):
            x = left + hr * cw
            fill, stroke = ("none", GRID) if v is None else ((ZERO if v == 0 else _heat(v, vmax)), "#fff")
            tip = "unknown" if v is None else f"{v:g}"
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{cw:.1f}" height="{cell_h}" fill="{fill}"'
                       f' stroke="{stroke}"><title>{escape(name)} {hr:02d}:00: {tip}</title></rect>')
    y = top + cell_h * len(rows) + 24
    out.append(_text(left, y, f"grey 0, darkest {vmax:g} in per hour, blank unknown", "start", size=16))
    return _svg(h, label, out)


def hbars(label: str, names: Sequence[str], counts: Sequence[int] | None, colours: Sequence[str],
          why_empty: str) -> str:
    """Horizontal bars, one per name (engagement buckets, loyalty classes), with their counts."""
    if counts is None or not any(counts):
        return _empty(110, label, why_empty)
    left, bar_h = 130, 34
    h = 10 + bar_h * len(names) + 6
    vmax = max(counts)
    total = sum(counts)
    out = []
    for i, (name, n, colour) in enumerate(zip(names, counts, colours, strict=True)):
        y = 8 + i * bar_h
        width = (W - left - 140) * n / vmax
        out.append(_text(left - 8, y + 23, name, "end", size=18))
        if n:
            out.append(f'<rect x="{left}" y="{y + 4}" width="{width:.1f}" height="{bar_h - 8}"'
                       f' fill="{colour}"/>')
        share = f"{n:,} ({n / total:.0%})"
        out.append(_text(left + width + 8, y + 23, share, "start", size=18, fill="#111827"))
    return _svg(h, label, out)
