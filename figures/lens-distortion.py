"""Radial distortion of a straight grid: barrel (k1 < 0) and pincushion (k1 > 0)."""

import numpy as np
from _style import bare, theme

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
        for line in grid_lines():
            bent = distort(line, k1, 0.0, 0.0, 0.0)
            ax.plot(bent[:, 0], bent[:, 1], color=colour, lw=1.3)
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(1.5, -1.5)
        ax.set_title(title, fontsize=10)
