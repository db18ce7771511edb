"""The common activation functions: saturating ones beside the rectifiers."""

import math

import numpy as np
from _style import theme

HEIGHT = 2.6
LEAK = 0.1  # drawn larger than the usual 0.01 so that its slope is visible


def gelu(x):
    return x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def draw(fig, variant, code):
    t = theme(fig, variant)
    x = np.linspace(-4, 4, 401)
    left, right = fig.subplots(1, 2)
    left.plot(x, 1 / (1 + np.exp(-x)), color=t.blue, label="sigmoid")
    left.plot(x, np.tanh(x), color=t.orange, ls="--", label="tanh")
    left.set_ylim(-1.2, 1.45)
    left.set_yticks([-1, 0, 1])
    left.set_title("saturating")
    right.plot(x, np.maximum(x, 0), color=t.blue, label="ReLU")
    right.plot(x, np.where(x > 0, x, LEAK * x), color=t.green, ls="--", label=f"leaky {LEAK}")
    right.plot(x, gelu(x), color=t.red, ls=":", label="GELU")
    right.set_ylim(-1.2, 4.2)
    right.set_title("rectifiers")
    for ax in (left, right):
        ax.axhline(0, color=t.faint, lw=1, zorder=0)
        ax.axvline(0, color=t.faint, lw=1, zorder=0)
        ax.set_xticks([-4, -2, 0, 2, 4])
        ax.legend(loc="upper left")
