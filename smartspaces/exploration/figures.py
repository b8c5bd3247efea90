"""Drawing the exploration notebooks' figures so they read without colour, and saving them when asked.

Values are written into heatmap cells (the colormap, cividis, only repeats them, in even steps of lightness),
series differ by marker and line style and bars by hatch, so a greyscale print or a colour-blind reader
loses nothing. matplotlib is a development dependency: it is imported by the callers, never here at runtime.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Where a notebook writes its figures as PNG files, when set (nothing is written otherwise).
FIGURES_FOLDER_VARIABLE = "SMARTSPACES_NOTEBOOK_FIGURES"
# Perceptually uniform and readable by colour-blind readers; its lightness rises steadily, so grey keeps order.
SEQUENTIAL_COLORMAP = "cividis"
# Series of a line chart: (marker, line style), repeated in this order.
SERIES_STYLES = (("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", "-"), ("P", "--"), ("X", ":"))
# Bars of a group: one hatch each, repeated in this order.
HATCHES = ("", "///", "...", "xx", "\\\\\\", "++", "oo", "--")


def figures_folder(environ: Mapping[str, str] | None = None) -> Path | None:
    """The folder named by SMARTSPACES_NOTEBOOK_FIGURES, or None when it is unset or empty."""
    folder = (os.environ if environ is None else environ).get(FIGURES_FOLDER_VARIABLE, "")
    return Path(folder) if folder else None


def save_figure(figure: Figure, name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Writes the figure to <SMARTSPACES_NOTEBOOK_FIGURES>/<name>.png when the variable is set; returns the path."""
    folder = figures_folder(environ)
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def annotated_heatmap(
    axes: Axes,
    grid: pd.DataFrame,
    *,
    value_format: str,
    colorbar_label: str,
    row_labels: Sequence[str] | None = None,
    marked: pd.DataFrame | None = None,
) -> None:
    """Draws a grid (a table of numbers, NaN for none) with each value written in its cell.

    marked: cells to single out (True), drawn hatched with a bold frame; missing cells stay blank.
    """
    values = grid.to_numpy(dtype=float)
    # NaN cells are drawn in the colormap's "bad" colour: transparent, so they stay blank.
    image = axes.imshow(values, cmap=SEQUENTIAL_COLORMAP, aspect="auto", interpolation="nearest")
    font_size = 7 if values.shape[0] <= 30 else 6
    for (row, column), value in np.ndenumerate(values):
        if np.isnan(value):
            continue
        red, green, blue, _ = image.cmap(image.norm(value))
        # Dark text on the light end of the colormap, light text on the dark end.
        ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        axes.text(column, row, format(value, value_format), ha="center", va="center", fontsize=font_size, color=ink)
    if marked is not None:
        from matplotlib.patches import Rectangle

        for row, column in zip(*np.nonzero(marked.to_numpy(dtype=bool)), strict=True):
            frame = Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.45", linewidth=1.5)
            axes.add_patch(frame)
    axes.set_xticks(range(len(grid.columns)), labels=[str(column) for column in grid.columns])
    axes.set_yticks(range(len(grid.index)), labels=list(row_labels or [str(row) for row in grid.index]))
    axes.tick_params(labelsize=8)
    axes.figure.colorbar(image, ax=axes, label=colorbar_label, fraction=0.03, pad=0.01)


def styled_lines(axes: Axes, series: pd.DataFrame) -> None:
    """One line per column of `series` against its index, each with its own marker and line style; markers only
    where the value is not 0, so a long, mostly empty period stays readable."""
    for position, column in enumerate(series.columns):
        marker, line_style = SERIES_STYLES[position % len(SERIES_STYLES)]
        values = series[column]
        marked = (values != 0).to_list()
        axes.plot(series.index, values, marker=marker, markevery=marked, linestyle=line_style, label=str(column))
    axes.legend(title=series.columns.name, loc="upper left", bbox_to_anchor=(1.01, 1))


def styled_points(axes: Axes, points: pd.DataFrame, x: str, y: str, by: str) -> None:
    """A scatter of points[x] against points[y], one marker shape per value of points[by] (hollow, so overlaps
    show)."""
    for position, (value, group) in enumerate(points.groupby(by, sort=True)):
        marker, _ = SERIES_STYLES[position % len(SERIES_STYLES)]
        axes.scatter(group[x], group[y], marker=marker, s=70, facecolors="none", edgecolors=f"C{position}", label=value)
    axes.legend(title=by, loc="upper left", bbox_to_anchor=(1.01, 1))


def hatched_bars(axes: Axes, groups: pd.DataFrame, *, horizontal: bool = False) -> None:
    """Grouped bars: one group per row of `groups`, one bar per column with its own hatch, each bar's value on it."""
    width = 0.8 / max(len(groups.columns), 1)
    positions = np.arange(len(groups.index))
    for position, column in enumerate(groups.columns):
        offsets = positions - 0.4 + width * (position + 0.5)
        hatch = HATCHES[position % len(HATCHES)]
        draw = axes.barh if horizontal else axes.bar
        bars = draw(offsets, groups[column], width, label=str(column), hatch=hatch, edgecolor="black")
        axes.bar_label(bars, fmt="%g", fontsize=8, padding=2)
    labels = [str(label) for label in groups.index]
    if horizontal:
        axes.set_yticks(positions, labels=labels)
        axes.margins(x=0.08)  # room for the values at the end of the longest bars
    else:
        axes.set_xticks(positions, labels=labels)
        axes.margins(y=0.08)
    if len(groups.columns) > 1:
        # Beside the plot, where it hides no bar.
        axes.legend(title=groups.columns.name, loc="upper left", bbox_to_anchor=(1.01, 1))
