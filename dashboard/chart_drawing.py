"""Charts drawn server-side by matplotlib (its SVG backend, object API: no pyplot, no global figure)
as self-contained SVG: no script, nothing loaded from elsewhere, and no CSS.

Why no CSS: the dashboard's Content-Security-Policy forbids inline style everywhere, and a browser
applies an SVG response's own CSP to it even inside <img>. matplotlib writes its styling as `style`
attributes and one <style> element; `_without_css` moves each declaration to the SVG presentation
attribute of the same name (`fill`, `stroke`, `font-size`...), which is not CSS and needs no
'unsafe-inline'. It also drops the DOCTYPE (a DTD address) and the RDF metadata (addresses too).

Each bar carries an id `bar-<series>-<position>` so tests can check the drawing against the data.
"""
from __future__ import annotations

import io
from xml.etree import ElementTree

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from dashboard.chart_data import DAYS, Chart

# Read by the SVG backend at save time; the same for every chart, so set once for the process.
matplotlib.rcParams.update({
    "svg.hashsalt": "bookings-ledger",   # clip-path ids from a fixed salt: the same data, the same bytes
    "svg.fonttype": "none",              # text as <text> in the browser's own fonts, not as paths
    "font.family": "sans-serif",
    "font.size": 10,
})
SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ElementTree.register_namespace("", SVG)
ElementTree.register_namespace("xlink", XLINK)
COLOURS = ("#0b5cad", "#1a6b35", "#8a4b00", "#a40e26", "#5b3e96", "#4a5360", "#00707a")
# The CSS properties matplotlib writes that are also SVG presentation attributes; any other would
# be lost in the move, so one is refused loudly instead (a matplotlib upgrade fails the tests).
PRESENTATION = frozenset({
    "fill", "fill-opacity", "stroke", "stroke-width", "stroke-linejoin", "stroke-linecap", "stroke-opacity",
    "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity", "font-size", "font-family",
    "font-weight", "font-style", "text-anchor", "clip-path",
})


def draw(chart: Chart) -> str:
    """The chart as an SVG document (text)."""
    figure = Figure(figsize=(8, 3.4), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(chart.title, loc="left")
    if chart.empty:
        axes.set_axis_off()
        axes.text(0.5, 0.5, chart.empty_text, ha="center", va="center", transform=axes.transAxes)
    else:
        (_day_bars if chart.layout == DAYS else _request_bars)(axes, chart)
    axes.spines[["top", "right"]].set_visible(False)
    if len(chart.series) > 1 and not chart.empty:
        axes.legend(loc="upper left", frameon=False, fontsize=8, ncols=min(len(chart.series), 4))
    buffer = io.StringIO()
    FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    return _without_css(buffer.getvalue())


def _day_bars(axes: Axes, chart: Chart) -> None:
    """Stacked bars, one per day, with each day's total above its bar."""
    bottoms = [0] * len(chart.positions)
    for number, series in enumerate(chart.series):
        label: str | None = series.label
        for index, value in enumerate(series.values):
            if value:
                axes.bar(index, value, bottom=bottoms[index], color=COLOURS[number % len(COLOURS)], label=label,
                         gid=f"bar-{number}-{index}")
                bottoms[index] += value
                label = None   # the legend names each series once
    for index, total in enumerate(bottoms):
        if total:
            axes.annotate(str(total), (index, total), ha="center", va="bottom", fontsize=7)
    ticks = list(range(len(chart.positions) - 1, -1, -7))[::-1]   # weekly, the newest day labelled
    axes.set_xticks(ticks, [chart.positions[index][5:] for index in ticks])
    axes.set_xlim(-0.75, len(chart.positions) - 0.25)
    axes.set_xlabel(chart.position_label)
    axes.set_ylabel(chart.value_label)
    axes.yaxis.get_major_locator().set_params(integer=True)


def _request_bars(axes: Axes, chart: Chart) -> None:
    """One horizontal bar per open request, its length the days left; overdue ones in red, left of zero."""
    (series,) = chart.series
    for index, value in enumerate(series.values):
        axes.barh(index, value, color=COLOURS[3] if value < 0 else COLOURS[0], gid=f"bar-0-{index}")
        note = chart.note_of(index)
        axes.annotate(f"{value} ({note})" if note else str(value), (value, index), ha="left" if value >= 0 else "right",
                      va="center", fontsize=7)
    axes.set_yticks(range(len(chart.positions)), [position[:12] for position in chart.positions])
    axes.axvline(0, color="#1b1f24", linewidth=0.8)
    axes.set_xlabel(chart.value_label)


def _without_css(svg: str) -> str:
    """The SVG with every `style` attribute moved to presentation attributes, and no <style>,
    DOCTYPE or metadata."""
    root = ElementTree.fromstring(svg)
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (f"{{{SVG}}}style", f"{{{SVG}}}metadata"):
                parent.remove(child)
    # What the dropped <style> said for every element ("*{stroke-linejoin: round; stroke-linecap: butt}"),
    # inherited from the root instead.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    for element in root.iter():
        style = element.attrib.pop("style", None)
        for declaration in filter(None, (part.strip() for part in (style or "").split(";"))):
            name, _colon, value = (text.strip() for text in declaration.partition(":"))
            if name not in PRESENTATION or name in element.attrib:
                raise ValueError(f"chart style {name!r} has no presentation attribute to move to")
            element.set(name, value)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode")
