"""Volume rendering along one ray: density, transmittance and the compositing weights."""

import numpy as np
from _style import theme

HEIGHT = 3.0
USES = ("code-nerf-weights",)


def density(t):
    haze = 1.5 * np.exp(-((t - 3.0) ** 2) / (2 * 0.15**2))  # a faint, semi-transparent puff
    wall = 25.0 / (1 + np.exp(-(t - 4.5) / 0.03))  # an opaque surface at t = 4.5
    return haze + wall


def draw(fig, variant, code):
    t = theme(fig, variant)
    weights_of = code["code-nerf-weights"].compositing_weights
    edges = np.linspace(2.0, 6.0, 161)
    samples = (edges[:-1] + edges[1:]) / 2
    sigma = density(samples)
    weights = weights_of(sigma, np.diff(edges))
    transmittance = 1 - np.concatenate([[0.0], np.cumsum(weights)[:-1]])  # T_i = 1 - sum_{j<i} w_j
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    top.fill_between(samples, sigma, color=t.muted, alpha=0.35, lw=0)
    top.plot(samples, sigma, color=t.muted, lw=1.4)
    top.set_ylabel(r"$\sigma$")
    top.set_yticks([])
    top.text(3.15, 2.5, "haze", color=t.fg, fontsize=9)
    top.text(4.6, 18, "surface", color=t.fg, fontsize=9)
    bottom.plot(samples, transmittance, color=t.blue, label="$T_i$")
    bottom.plot(samples, weights / weights.max(), color=t.orange, label="$w_i$ (scaled)")
    bottom.set_ylim(0, 1.08)
    bottom.set_yticks([0, 1])
    bottom.set_xlabel("distance along the ray $t$")
    bottom.legend(loc="center left")
