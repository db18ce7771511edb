"""Derivatives of the common activations: sigmoid's never exceeds 0.25."""

import math

import numpy as np
from _style import theme

HEIGHT = 2.6
LEAK = 0.1


def gelu_derivative(x):
    # d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    pdf = np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


def draw(fig, variant, code):
    t = theme(fig, variant)
    x = np.linspace(-4, 4, 401)
    neg, pos = x[x < 0], x[x > 0]
    left, right = fig.subplots(1, 2, sharey=True)
    s = 1 / (1 + np.exp(-x))
    left.plot(x, s * (1 - s), color=t.blue, label="sigmoid\N{PRIME}")
    left.plot(x, 1 - np.tanh(x) ** 2, color=t.orange, ls="--", label="tanh\N{PRIME}")
    left.axhline(0.25, color=t.muted, lw=1, ls=":")
    left.text(4, 0.27, "0.25", color=t.muted, ha="right", va="bottom", fontsize=10)
    left.set_title("saturating")
    # The rectifiers have no derivative at 0: draw each side as its own segment.
    right.plot(neg, 0 * neg, color=t.blue, label="ReLU\N{PRIME}")
    right.plot(pos, 1 + 0 * pos, color=t.blue)
    right.plot(neg, LEAK + 0 * neg, color=t.green, ls="--", label=f"leaky\N{PRIME} {LEAK}")
    right.plot(pos, 1 + 0 * pos, color=t.green, ls="--")
    right.plot(x, gelu_derivative(x), color=t.red, ls=":", label="GELU\N{PRIME}")
    right.set_title("rectifiers")
    left.set_ylim(-0.2, 2.0)  # room for the legends above the curves
    left.set_yticks([0, 0.5, 1])
    for ax in (left, right):
        ax.axhline(0, color=t.faint, lw=1, zorder=0)
        ax.axvline(0, color=t.faint, lw=1, zorder=0)
        ax.set_xticks([-4, -2, 0, 2, 4])
        ax.legend(loc="upper left")
