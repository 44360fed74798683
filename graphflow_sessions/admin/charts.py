"""Charts as inline SVG drawn on the server: no JavaScript, no CDN, readable in both themes.

Shapes are filled with ``currentColor`` (the admin's text colour in light and dark theme;
``admin.css`` sets it from the admin's CSS variables) at different opacities, so a chart
follows the theme without a colour of its own. Each bar carries its numbers in a
``<title>`` (a tooltip, and what a screen reader says); the page also lists every number
in a table. Every label is escaped by ``format_html``: graph and task names are user data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

#: Opacity of each segment of a stacked bar, in order (distinct in light and dark theme).
SEGMENT_OPACITY = (1.0, 0.7, 0.45, 0.25)


@dataclass(frozen=True)
class Bar:
    value: int
    #: What the bar's <title> says (its label and number, as a sentence).
    title: str
    href: str | None = None


def _bar(x: float, y: float, width: float, height: float, bar: Bar, opacity: float) -> SafeString:
    shape = format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="currentColor" '
        'fill-opacity="{}"><title>{}</title></rect>',
        f"{x:.1f}",
        f"{y:.1f}",
        f"{width:.1f}",
        f"{height:.1f}",
        opacity,
        bar.title,
    )
    if bar.href:
        return format_html('<a href="{}" class="gfs-chart-link">{}</a>', bar.href, shape)
    return shape


def column_chart(bars: Sequence[Bar], *, label: str, height: int = 120) -> SafeString:
    """Vertical bars side by side (one per day), scaled to the largest; ``label`` names the
    chart for assistive technology."""
    width_each, gap = 10, 2
    width = max(len(bars), 1) * (width_each + gap)
    top = max((bar.value for bar in bars), default=0) or 1
    shapes = []
    for index, bar in enumerate(bars):
        bar_height = height * bar.value / top
        # An empty day still gets a sliver, so its <title> can be hovered.
        shown = max(bar_height, 1.0)
        opacity = 0.8 if bar.value else 0.2
        shapes.append(
            _bar(index * (width_each + gap), height - shown, width_each, shown, bar, opacity)
        )
    return format_html(
        '<svg class="gfs-chart" role="img" viewBox="0 0 {} {}" width="100%" height="{}" '
        'preserveAspectRatio="none"><title>{}</title>{}</svg>',
        width,
        height,
        height,
        label,
        mark_safe("".join(shapes)),
    )


def stacked_bar(
    segments: Sequence[Bar], *, label: str, scale: int, width: int = 400, height: int = 18
) -> SafeString:
    """One horizontal bar made of ``segments`` (e.g. idle buckets), its length relative to
    ``scale`` (the largest bar of the group, so bars compare)."""
    scale = scale or 1
    x = 0.0
    shapes = []
    for index, segment in enumerate(segments):
        if not segment.value:
            continue
        length = width * segment.value / scale
        opacity = SEGMENT_OPACITY[index % len(SEGMENT_OPACITY)]
        shapes.append(_bar(x, 0, length, height, segment, opacity))
        x += length
    return format_html(
        '<svg class="gfs-chart gfs-bar" role="img" viewBox="0 0 {} {}" width="{}" height="{}">'
        "<title>{}</title>{}</svg>",
        width,
        height,
        width,
        height,
        label,
        mark_safe("".join(shapes)),
    )


def legend(labels: Sequence[str]) -> SafeString:
    """Swatches for the segments of ``stacked_bar``, in the same order and opacities."""
    return format_html(
        '<ul class="gfs-legend">{}</ul>',
        format_html_join(
            "",
            '<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
            'fill="currentColor" fill-opacity="{}"/></svg> {}</li>',
            (
                (SEGMENT_OPACITY[index % len(SEGMENT_OPACITY)], text)
                for index, text in enumerate(labels)
            ),
        ),
    )
