"""Bias², variance and test error against complexity, computed exactly for k-NN regression.

With the inputs fixed and noise of variance s² on the targets, the k-nearest-neighbour fit at a
training input has bias f(x) - mean of f over its k neighbours and variance s²/k; the expected
error on a fresh target there is bias² + variance + s² (Hastie et al., ESL eq. 7.10), and on
the training target itself, which the fit averages in, bias² + s²(1 - 1/k). Fewer neighbours
make the model more complex.
"""

import numpy as np
from _style import theme

HEIGHT = 3.1
N, NOISE = 60, 0.5
KS = np.arange(1, 51)


def draw(fig, variant, code):
    t = theme(fig, variant)
    x = np.linspace(0, 1, N)
    f = np.sin(2 * np.pi * x)
    nearest = np.argsort(np.abs(x[:, None] - x[None, :]), axis=1, kind="stable")
    bias2 = np.array([np.mean((f - f[nearest[:, :k]].mean(axis=1)) ** 2) for k in KS])
    variance = NOISE**2 / KS
    total = bias2 + variance + NOISE**2
    # The fit at x_i averages y_i itself, so training error is bias² + s²(1 - 1/k).
    training = bias2 + NOISE**2 * (1 - 1 / KS)
    ax = fig.subplots()
    ax.plot(KS, bias2, color=t.blue, label="bias²")
    ax.plot(KS, variance, color=t.orange, ls="--", label="variance")
    ax.plot(KS, total, color=t.fg, lw=2.6, label="test error")
    ax.plot(KS, training, color=t.purple, lw=1.8, ls="-.", label="training error")
    ax.axhline(NOISE**2, color=t.muted, lw=1.2, ls=":")
    ax.text(3.5, NOISE**2 + 0.01, "noise", color=t.muted, ha="center", va="bottom", fontsize=10)
    best = KS[np.argmin(total)]
    ax.axvline(best, color=t.green, lw=1.4, zorder=0)
    ax.text(best * 1.07, 0.53, "best", color=t.green, fontsize=10, ha="right")
    ax.set_xscale("log")
    ax.set_xlim(KS[-1], KS[0])  # complexity grows to the right
    ax.set_xticks([50, 20, 10, 5, 2, 1], ["50", "20", "10", "5", "2", "1"])
    ax.minorticks_off()
    ax.set_ylim(0, 0.6)
    ax.set_yticks([0, 0.25, 0.5])
    ax.set_xlabel("neighbours k   (complexity →)")
    ax.set_ylabel("error")
    fig.legend(loc="outside upper center", ncols=2, columnspacing=1)
