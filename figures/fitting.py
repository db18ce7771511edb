"""The same noisy samples of a quadratic fitted by polynomials of degree 1, 2 and 10."""

import numpy as np
from _style import theme
from numpy.polynomial import legendre

HEIGHT = 2.1
FITS = (("underfit", 1), ("good fit", 2), ("overfit", 10))
POINTS = 12


def truth(x):
    return 1.6 * x**2 - 0.8


def draw(fig, variant, code):
    t = theme(fig, variant)
    rng = np.random.default_rng(7)
    x = np.linspace(-1, 1, POINTS) + rng.uniform(-0.04, 0.04, POINTS)
    y = truth(x) + rng.normal(0, 0.25, POINTS)
    grid = np.linspace(-1.04, 1.04, 400)
    for ax, (title, degree) in zip(fig.subplots(1, 3, sharey=True), FITS, strict=True):
        fit = legendre.legval(grid, legendre.legfit(x, y, degree))
        ax.plot(grid, truth(grid), color=t.muted, lw=1.2, ls=":")
        ax.plot(grid, fit, color=t.blue)
        ax.plot(x, y, "o", color=t.orange, ms=5, zorder=3)
        ax.set_title(title)
        ax.set_xlabel(f"degree {degree}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylim(-1.6, 1.7)
        ax.spines[["left", "bottom"]].set_color(t.faint)
