"""Anchor boxes at one cell of the feature-map grid: 2 scales x 3 aspect ratios."""

import math

from _style import bare, theme
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

HEIGHT = 3.0
GRID = 8  # cells per side
CELL = (4, 3)  # column, row (from the bottom) of the cell whose anchors are drawn
SCALES = (1.8, 3.6)  # sqrt(area) in cells
RATIOS = (0.5, 1.0, 2.0)  # width / height


def draw(fig, variant, code):
    t = theme(fig, variant)
    ax = bare(fig.subplots())
    # The grid's vertical and horizontal lines as one collection of segments.
    lines = [[(i, 0), (i, GRID)] for i in range(GRID + 1)]
    lines += [[(0, i), (GRID, i)] for i in range(GRID + 1)]
    ax.add_collection(
        LineCollection(lines, colors=t.faint, linewidths=0.9, capstyle="projecting", zorder=0)
    )
    cx, cy = CELL[0] + 0.5, CELL[1] + 0.5
    ax.add_patch(Rectangle(CELL, 1, 1, color=t.muted, alpha=0.5, lw=0, zorder=1))
    colours = (t.blue, t.orange, t.green)
    # The six anchors as one collection of outlines, each with its own colour and dash style.
    boxes, edges, styles = [], [], []
    for scale, style in zip(SCALES, ("--", "-"), strict=True):
        for ratio, colour in zip(RATIOS, colours, strict=True):
            w, h = scale * math.sqrt(ratio), scale / math.sqrt(ratio)
            boxes.append(Rectangle((cx - w / 2, cy - h / 2), w, h))
            edges.append(colour)
            styles.append(style)
    ax.add_collection(
        PatchCollection(
            boxes,
            facecolors="none",
            edgecolors=edges,
            linewidths=2.2,
            linestyles=styles,
            joinstyle="miter",
            zorder=2,
        ),
        autolim=False,
    )
    ax.plot(cx, cy, "o", color=t.fg, ms=4, zorder=3)
    handles = [Line2D([], [], color=c, lw=2.4) for c in colours]
    labels = ["1:2", "1:1", "2:1"]
    handles += [Line2D([], [], color=t.fg, lw=2, ls=s) for s in ("--", "-")]
    labels += ["small", "large"]
    ax.legend(
        handles,
        labels,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        title="w:h / scale",
        title_fontsize=10,
        handlelength=1.8,
    )
    ax.set_xlim(-0.2, GRID + 0.2)
    ax.set_ylim(-0.2, GRID + 0.2)
