"""PCA on correlated 2-D data: the principal axes and the projection onto the first."""

import numpy as np
from _style import bare, theme
from matplotlib.collections import LineCollection

HEIGHT = 2.7


def draw(fig, variant, code):
    t = theme(fig, variant)
    rng = np.random.default_rng(1)
    points = rng.multivariate_normal([0, 0], [[3.0, 1.4], [1.4, 1.5]], size=90)
    centred = points - points.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    variances = singular**2 / (len(points) - 1)
    ax = bare(fig.subplots())
    pc1 = axes[0]
    projected = np.outer(centred @ pc1, pc1)
    # Every third point's projection line, all in one collection of segments.
    segments = np.stack([centred[::3], projected[::3]], axis=1)
    ax.add_collection(
        LineCollection(segments, colors=t.faint, linewidths=0.8, capstyle="projecting", zorder=1)
    )
    ax.plot(centred[:, 0], centred[:, 1], "o", color=t.muted, ms=3.5, zorder=2)
    ax.plot(projected[:, 0], projected[:, 1], "o", color=t.orange, ms=3, alpha=0.7, zorder=3)
    for name, direction, variance, colour in zip(
        ("PC1", "PC2"), axes, variances, (t.blue, t.green), strict=True
    ):
        tip = 2 * np.sqrt(variance) * direction  # two standard deviations along the axis
        ax.annotate(
            "",
            xy=tip,
            xytext=(0, 0),
            zorder=4,
            arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2.4},
        )
        ax.text(
            *(tip * 1.22),
            name,
            color=colour,
            fontsize=12,
            weight="bold",
            ha="center",
            va="center",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.1", "fc": t.bg, "ec": "none", "alpha": 0.8},
        )
    share = variances[0] / variances.sum()
    ax.set_title(f"PC1 keeps {share:.0%} of the variance", fontsize=11)
