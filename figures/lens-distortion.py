"""Radial distortion of a straight grid: barrel (k1 < 0) and pincushion (k1 > 0)."""

import numpy as np
from _style import bare, theme
from matplotlib.collections import LineCollection

HEIGHT = 1.75
USES = ("code-distort-points",)

K1 = 0.15
LINES = np.linspace(-1.0, 1.0, 7)


def grid_lines():
    dense = np.linspace(-1.0, 1.0, 80)
    for c in LINES:
        yield np.column_stack([dense, np.full_like(dense, c)])
        yield np.column_stack([np.full_like(dense, c), dense])


def draw(fig, variant, code):
    t = theme(fig, variant)
    distort = code["code-distort-points"].distort
    panels = (
        ("barrel\n$k_1 < 0$", -K1, t.blue),
        ("none\n$k_1 = 0$", 0.0, t.muted),
        ("pincushion\n$k_1 > 0$", K1, t.orange),
    )
    for ax, (title, k1, colour) in zip(fig.subplots(1, 3), panels, strict=True):
        bare(ax)
        # The 14 bent grid lines as one collection (one artist instead of 14 plotted lines).
        bent = [distort(line, k1, 0.0, 0.0, 0.0) for line in grid_lines()]
        ax.add_collection(
            LineCollection(
                bent, colors=colour, linewidths=1.3, capstyle="projecting", joinstyle="round"
            )
        )
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(1.5, -1.5)
        ax.set_title(title, fontsize=10)
