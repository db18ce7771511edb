"""2x2 max pooling with stride 2: each window keeps its largest value."""

import numpy as np
from _grid import cells
from _style import bare, theme

HEIGHT = 2.2
USES = ("code-max-pool",)

X = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 7, 2], [3, 2, 6, 8]])
SIZE = 2


def draw(fig, variant, code):
    t = theme(fig, variant)
    pooled = code["code-max-pool"].max_pool(X, SIZE)
    ax = bare(fig.subplots())
    window_colours = (t.blue, t.orange, t.green, t.purple)

    def colour(i, j):
        return window_colours[(i // SIZE) * pooled.shape[1] + j // SIZE]

    def is_max(i, j):
        return X[i, j] == pooled[i // SIZE, j // SIZE]

    n = X.shape[0]
    cells(
        ax,
        X,
        0,
        n,
        edge=t.bg,
        size=12,
        fill=lambda i, j: colour(i, j) + ("99" if is_max(i, j) else "33"),
        text=t.fg,
        weight=lambda i, j: "bold" if is_max(i, j) else "normal",
    )
    ax.annotate(
        "",
        xy=(n + 1.6, n / 2),
        xytext=(n + 0.4, n / 2),
        arrowprops={"arrowstyle": "->", "color": t.fg, "lw": 1.8},
    )
    ox = n + 2
    cells(
        ax,
        pooled,
        ox,
        n - 1,
        edge=t.bg,
        size=12,
        fill=lambda i, j: window_colours[i * pooled.shape[1] + j] + "99",
        text=t.fg,
        weight="bold",
    )
    ax.text(n / 2, -0.35, r"input $4 \times 4$", ha="center", va="top", fontsize=10)
    ax.text(ox + 1, 0.65, r"output $2 \times 2$", ha="center", va="top", fontsize=10)
    ax.set_xlim(-0.2, ox + 2.2)
    ax.set_ylim(-1.1, n + 0.2)
