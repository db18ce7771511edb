"""A 3x3 kernel on a 5x5 image with zero padding 1 and stride 2: a 3x3 output."""

import numpy as np
from _grid import cells, outline
from _style import bare, theme

HEIGHT = 2.75
USES = ("code-conv2d",)

IMAGE = np.array(
    [
        [1, 0, 2, 1, 0],
        [0, 3, 1, 0, 2],
        [2, 1, 0, 1, 1],
        [1, 0, 2, 3, 0],
        [0, 2, 1, 0, 1],
    ]
)
KERNEL = np.array([[1, 0, 1], [0, 2, 0], [1, 0, 1]])
PAD, STRIDE = 1, 2
AT = (0, 1)  # the output cell whose window is shown


def draw(fig, variant, code):
    t = theme(fig, variant)
    out = code["code-conv2d"].conv2d(IMAGE, KERNEL, stride=STRIDE, padding=PAD)
    padded = np.pad(IMAGE, PAD)
    ax = bare(fig.subplots())
    n, k = IMAGE.shape[0], KERNEL.shape[0]
    size = rf"$\lfloor ({n} + 2 \cdot {PAD} - {k})\,/\,{STRIDE} \rfloor + 1 = {out.shape[0]}$"
    ax.set_title(f"output size {size}", fontsize=11)
    top = padded.shape[0]
    row0, col0 = AT[0] * STRIDE, AT[1] * STRIDE

    def in_window(i, j):
        return row0 <= i < row0 + k and col0 <= j < col0 + k

    def is_pad(i, j):
        return not (PAD <= i < top - PAD and PAD <= j < top - PAD)

    cells(
        ax,
        padded,
        0,
        top,
        edge=t.faint,
        fill=lambda i, j: t.blue + "66" if in_window(i, j) else (t.faint if is_pad(i, j) else None),
        text=lambda i, j: t.muted if is_pad(i, j) and not in_window(i, j) else t.fg,
    )
    outline(ax, col0, top - row0, k, k, t.blue)
    kx = padded.shape[1] + 1.2
    ky = top - (top - k) / 2
    ax.text(kx - 0.6, top / 2, "\N{ASTERISK OPERATOR}", ha="center", va="center", fontsize=16)
    cells(ax, KERNEL, kx, ky, edge=t.blue, fill=t.blue + "66", text=t.fg, weight="bold")
    ox = kx + k + 1.2
    oy = top - (top - out.shape[0]) / 2
    ax.text(ox - 0.6, top / 2, "=", ha="center", va="center", fontsize=16)
    cells(
        ax,
        out,
        ox,
        oy,
        edge=t.orange,
        fill=lambda i, j: t.orange + "88" if (i, j) == AT else None,
        text=t.fg,
        weight=lambda i, j: "bold" if (i, j) == AT else "normal",
    )
    below = -0.6
    ax.text(top / 2, below, rf"${n} \times {n}$, padding {PAD}", ha="center", va="top", fontsize=10)
    ax.text(kx + k / 2, below, "kernel", ha="center", va="top", fontsize=10)
    ax.text(ox + out.shape[1] / 2, below, f"stride {STRIDE}", ha="center", va="top", fontsize=10)
    ax.set_xlim(-0.2, ox + out.shape[1] + 0.2)
    ax.set_ylim(below - 1.0, top + 0.2)
