"""Matrices drawn as grids of numbered cells, for the convolution and pooling figures."""

from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle


def cells(ax, values, x0, y0, *, edge, text, fill=None, size=9, weight="normal"):
    """Draws `values` (rows top to bottom) with its top-left corner at (x0, y0), one unit a cell.

    `fill`, `text` and `weight` are one value for all cells or a function of (row, column).
    """

    def pick(choice, i, j):
        return choice(i, j) if callable(choice) else choice

    squares, fills = [], []
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            squares.append(Rectangle((x0 + j, y0 - i - 1), 1, 1))
            fills.append(pick(fill, i, j) or "none")
            ax.text(
                x0 + j + 0.5,
                y0 - i - 0.5,
                f"{value:g}",
                ha="center",
                va="center",
                color=pick(text, i, j),
                fontsize=size,
                weight=pick(weight, i, j),
                zorder=3,
            )
    ax.add_collection(
        PatchCollection(squares, facecolors=fills, edgecolors=edge, linewidths=1, zorder=1),
        autolim=False,
    )


def outline(ax: Axes, x0, y0, rows, cols, colour, lw=2.6):
    """A thick frame around `rows` x `cols` cells whose top-left corner is (x0, y0)."""
    ax.add_patch(Rectangle((x0, y0 - rows), cols, rows, fill=False, ec=colour, lw=lw, zorder=4))
