"""LoRA: a frozen d x k weight plus a trainable rank-r product, merged into one matrix."""

import numpy as np
from _style import bare, theme

HEIGHT = 1.7
USES = ("code-lora-merge",)
D, K, R, ALPHA = 12, 12, 2, 2.0


def draw(fig, variant, code):
    t = theme(fig, variant)
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(D, K)) * 0.4
    a, b = rng.normal(size=(R, K)), rng.normal(size=(D, R)) * 0.3  # a small update
    merged = code["code-lora-merge"].merge_lora(w0, a, b, ALPHA)
    ax = bare(fig.subplots())
    blocks = (
        (w0, 0, r"$W_0$ frozen", t.muted),
        (b, 17.0, r"$B$", t.orange),
        (a, 20.5, r"$A$", t.orange),
        (merged, 35.5, r"$W$", t.fg),
    )
    limit = np.abs(merged).max()
    for matrix, x0, label, colour in blocks:
        rows, cols = matrix.shape
        top = (D - rows) / 2 if matrix is a else 0
        ax.imshow(
            matrix, cmap=t.cmap, vmin=-limit, vmax=limit, extent=(x0, x0 + cols, top + rows, top)
        )
        ax.text(x0 + cols / 2, D + 1.0, label, ha="center", va="top", color=colour, fontsize=11)
    for x, symbol in ((13.3, "+"), (19.75, "\N{MULTIPLICATION SIGN}"), (34.0, "=")):
        ax.text(x, D / 2, symbol, ha="center", va="center", fontsize=14, color=t.fg)
    ax.text(15.3, D / 2, r"$\frac{\alpha}{r}$", ha="center", va="center", fontsize=12, color=t.fg)
    ax.set_title(f"trainable: r(d+k) = {R * (D + K)} of dk = {D * K} weights", fontsize=10)
    ax.set_xlim(-0.5, 48.0)
    ax.set_ylim(D + 3.0, -0.5)
