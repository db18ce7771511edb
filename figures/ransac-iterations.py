"""RANSAC iterations for 99% confidence against the inlier ratio, per sample size."""

import numpy as np
from _style import theme

HEIGHT = 2.8
USES = ("code-ransac-iterations",)

SOLVERS = ((4, "homography, 4"), (5, "essential, 5"), (7, "fundamental, 7"), (8, "eight-point, 8"))


def draw(fig, variant, code):
    t = theme(fig, variant)
    iterations = code["code-ransac-iterations"].ransac_iterations
    w = np.linspace(0.25, 0.95, 120)
    ax = fig.subplots()
    for (s, label), colour in zip(SOLVERS, (t.green, t.blue, t.purple, t.orange), strict=True):
        ax.plot(w, [iterations(0.99, x, s) for x in w], color=colour, label=label, lw=2)
        ax.plot(0.5, iterations(0.99, 0.5, s), "o", color=colour, ms=5)
    ax.set_yscale("log")
    # Without minor ticks: they took a quarter of drawing this figure, and at this size the
    # major ticks and grid are what a reader reads off (#19).
    ax.minorticks_off()
    ax.set_xlabel("inlier ratio $w$")
    ax.set_ylabel("iterations")
    ax.set_xlim(0.25, 0.95)
    ax.grid(True, which="major", axis="y")
    ax.legend(title="sample size $s$", title_fontsize=9, fontsize=9)
