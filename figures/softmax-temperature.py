"""Softmax of the same logits at three temperatures: low T sharpens, high T flattens."""

import numpy as np
from _style import theme

HEIGHT = 2.5
LOGITS = np.array([2.0, 1.0, 0.0, -1.0])
TEMPERATURES = (0.5, 1.0, 4.0)


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def draw(fig, variant, code):
    t = theme(fig, variant)
    fig.suptitle(r"$p_i = e^{z_i/T}\, /\, \sum_j e^{z_j/T}$", fontsize=12)
    axes = fig.subplots(1, len(TEMPERATURES), sharey=True)
    for ax, temperature in zip(axes, TEMPERATURES, strict=True):
        p = softmax(LOGITS / temperature)
        ax.bar(range(LOGITS.size), p, color=t.blue, width=0.7)
        ax.set_title(f"T = {temperature:g}")
        ax.set_xticks(range(LOGITS.size), [f"{z:g}".replace("-", "\N{MINUS SIGN}") for z in LOGITS])
        ax.set_ylim(0, 1)
        ax.grid(True, axis="y")
        ax.set_axisbelow(True)
    axes[0].set_yticks([0, 0.5, 1])
    axes[0].set_ylabel("probability")
    axes[1].set_xlabel("logit z")
