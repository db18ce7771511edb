"""Why sigmoids make gradients vanish: a flat derivative, multiplied once per layer."""

import numpy as np
from _style import theme

HEIGHT = 2.7
SATURATED = 4.0  # |x| beyond which sigmoid' < 0.018


def draw(fig, variant, code):
    t = theme(fig, variant)
    left, right = fig.subplots(1, 2, width_ratios=(1.25, 1))
    x = np.linspace(-8, 8, 401)
    s = 1 / (1 + np.exp(-x))
    for lo, hi in ((-8, -SATURATED), (SATURATED, 8)):
        left.axvspan(lo, hi, color=t.red, alpha=0.18, lw=0)
    left.plot(x, s, color=t.blue, label=r"$\sigma(x)$")
    left.plot(x, s * (1 - s), color=t.orange, ls="--", label=r"$\sigma'(x)$")
    left.text(-6, 0.5, r"$\sigma' \approx 0$", color=t.red, ha="center", fontsize=10)
    left.text(6, 0.5, r"$\sigma' \approx 0$", color=t.red, ha="center", fontsize=10)
    left.set_xticks([-8, -4, 0, 4, 8])
    left.set_yticks([0, 0.25, 0.5, 1], ["0", ".25", ".5", "1"])
    left.set_ylim(-0.05, 1.3)
    left.legend(loc="upper left", ncols=2, columnspacing=0.8)
    left.set_title("saturation")
    layers = np.arange(1, 11)
    right.semilogy(layers, 0.25**layers, "o-", color=t.orange, ms=4)
    right.set_xticks([1, 4, 7, 10])
    right.set_yticks([1e-1, 1e-3, 1e-5])
    right.minorticks_off()
    right.set_xlabel("layers n")
    # Only the activations' factors: the weights multiply in too, and can outweigh them.
    right.set_title(r"$\prod \sigma'$ over n layers")
    right.text(5.5, 1e-2, r"$\leq 0.25^n$", color=t.orange, fontsize=13)
    right.grid(True, axis="y")
