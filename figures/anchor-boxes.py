"""Anchor boxes at one cell of the feature-map grid: 2 scales x 3 aspect ratios."""

import math

from _style import bare, theme
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
    for i in range(GRID + 1):
        ax.plot([i, i], [0, GRID], color=t.faint, lw=0.9, zorder=0)
        ax.plot([0, GRID], [i, i], color=t.faint, lw=0.9, zorder=0)
    cx, cy = CELL[0] + 0.5, CELL[1] + 0.5
    ax.add_patch(Rectangle(CELL, 1, 1, color=t.muted, alpha=0.5, lw=0, zorder=1))
    colours = (t.blue, t.orange, t.green)
    for scale, style in zip(SCALES, ("--", "-"), strict=True):
        for ratio, colour in zip(RATIOS, colours, strict=True):
            w, h = scale * math.sqrt(ratio), scale / math.sqrt(ratio)
            ax.add_patch(
                Rectangle(
                    (cx - w / 2, cy - h / 2),
                    w,
                    h,
                    fill=False,
                    ec=colour,
                    lw=2.2,
                    ls=style,
                    zorder=2,
                )
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
