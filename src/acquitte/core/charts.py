"""Charts drawn on the server as SVG (pygal), shown as images: no script runs, nothing to build,
and the page's content policy holds (an image may come as a data: URL). Every chart goes with a
table of the same figures, for screen readers and for anyone who would rather read."""

import base64
from collections.abc import Callable, Sequence
from decimal import Decimal

import pygal
from pygal.style import Style

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1d2a33",
    foreground_strong="#1d2a33",
    foreground_subtle="#d9e1e6",
    colors=("#1f5f7a", "#b3261e", "#1e7b43"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    # Drawn 640 wide, shown at about half on a two-column page: the type is set large to stay legible.
    label_font_size=20,
    major_label_font_size=20,
    value_font_size=20,
    tooltip_font_size=16,
)


def bar_chart(
    *,
    labels: Sequence[str],
    values: Sequence[Decimal | int],
    value_formatter: Callable[[float], str],
    width: int = 640,
    height: int = 300,
) -> str:
    """One series of bars as a data: URL, each bar labelled with its value so that no colour or
    hover is needed to read it."""
    chart = pygal.Bar(
        style=STYLE,
        width=width,
        height=height,
        show_legend=False,
        print_values=True,
        print_values_position="top",
        value_formatter=value_formatter,
        # Every bar carries its figure: no axis of amounts, no guides to count lines on.
        show_y_labels=False,
        show_y_guides=False,
        truncate_label=-1,
        margin=8,
        spacing=6,
        js=[],  # no script: the image is static
        disable_xml_declaration=False,
    )
    chart.x_labels = list(labels)
    chart.add("", [float(v) or None for v in values])  # an empty band or month shows no "0"
    svg: bytes = chart.render()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
