"""The compliance report's charts: inline SVG bars (no script, no network), printable."""

from __future__ import annotations

from collections.abc import Mapping

from monitor.reports.safe_text import html_text


def bars(title: str, data: Mapping[str, float], colour: str = "#2b6cb0") -> str:
    if not data:
        return f"<figure><figcaption>{html_text(title)}</figcaption><p>none</p></figure>"
    width, bar_h, gap, label_w = 640, 18, 6, 170
    peak = max(data.values()) or 1
    rows = []
    for i, (label, value) in enumerate(data.items()):
        y = i * (bar_h + gap)
        w = (width - label_w - 60) * value / peak
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{html_text(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{value:g}</text>'
        )
    height = len(data) * (bar_h + gap)
    return (
        f'<figure><figcaption>{html_text(title)}</figcaption><svg role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-size="12" font-family="sans-serif">{"".join(rows)}</svg></figure>'
    )


def stacked_daily(daily: dict[str, dict[str, int]]) -> str:
    """One bar per day of the period (an empty day is an empty slot), stacked by outcome."""
    colours = {"completed": "#2f855a", "failed": "#c53030", "not created": "#975a16", "pending": "#718096"}
    if not daily:
        return "<figure><figcaption>Refreshes per day by outcome</figcaption><p>none</p></figure>"
    width, height, pad = 680, 220, 30
    peak = max(sum(d.values()) for d in daily.values()) or 1
    step = (width - 2 * pad) / len(daily)
    every = max(1, -(-len(daily) // 15))  # at most ~15 date labels: 9 px text needs ~25 px
    parts = []
    for i, (day, counts) in enumerate(daily.items()):
        x = pad + i * step
        bars = [f"<title>{day}: {sum(counts.values())} refreshes</title>"]
        y: float = height - pad
        for kind, colour in colours.items():
            h = (height - 2 * pad) * counts.get(kind, 0) / peak
            if h:
                bars.append(
                    f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{day} {kind}: {counts[kind]}</title></rect>'
                )
                y -= h
        parts.append(f'<g class="day" data-day="{day}">{"".join(bars)}</g>')
        if i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="9">{day[5:]}</text>')
    axis = f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#a0aec0"/>'
    legend = "".join(f'<span class="key" style="background:{c}"></span>{k} ' for k, c in colours.items())
    return (
        f"<figure><figcaption>Refreshes per day by outcome ({len(daily)} days, UTC; peak {peak})</figcaption>"
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif">{axis}{"".join(parts)}</svg><div class="legend">{legend}</div></figure>'
    )
