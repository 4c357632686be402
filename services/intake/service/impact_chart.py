"""The impact page's plot, drawn on the server as inline SVG: no script, readable by a screen reader
(``role="img"`` named by its ``<title>`` and ``<desc>``), and the same figures are in a table below it."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 20, 40
BAR_COLOUR, MASKED_COLOUR, INK = "#000091", "#929292", "#161616"


def _nice_max(value: int) -> int:
    for step in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return step
    return value


def actions_by_month_svg(months: list[dict], threshold: int) -> Markup:
    """Bars of joint actions per month; a month below the threshold is a grey stub labelled « < 5 »."""
    known = [m["actions"] for m in months if m["actions"] is not None]
    top = _nice_max(max(known + [threshold]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(months))
    bar_w = min(48.0, max(4.0, slot * 0.6))
    said = ", ".join(
        f"{m['label']} : {m['actions'] if m['actions'] is not None else f'moins de {threshold}'}"
        for m in months
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="graphe-titre graphe-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" style="max-width:{WIDTH}px" id="graphe-actions">',
        '<title id="graphe-titre">Actions conjointes par mois</title>',
        f'<desc id="graphe-desc">Histogramme du nombre d\'actions conjointes déclarées par mois. {escape(said)}.</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="{INK}"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="12" fill="{INK}">{top}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="12" fill="{INK}">0</text>',
    ]
    label_every = max(1, len(months) // 12)
    for i, m in enumerate(months):
        x = LEFT + i * slot + (slot - bar_w) / 2
        value = m["actions"]
        if value is None:
            h, colour, shown = plot_h * (threshold / 2) / top, MASKED_COLOUR, f"< {threshold}"
        else:
            h, colour, shown = plot_h * value / top, BAR_COLOUR, str(value)
        y = TOP + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"/>')
        if value != 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11" '
                f'fill="{INK}">{escape(shown)}</text>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11" '
                f'fill="{INK}">{escape(m["label"])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
