"""What guidance aims at: a class's density tilted by p(c|x)^(s-1), shown for a 1-D toy with
two classes. Larger scales push samples away from the other class and narrow them."""

import numpy as np
from _style import theme

HEIGHT = 2.6
SCALES = (1, 3, 8)
X = np.linspace(-5, 5, 801)


def gaussian(x, mean, sd):
    return np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))


def draw(fig, variant, code):
    t = theme(fig, variant)
    wanted, other = gaussian(X, 1.0, 1.0), gaussian(X, -1.5, 1.0)  # p(x|c), p(x|other)
    marginal = (wanted + other) / 2
    posterior = wanted / (wanted + other)  # p(c|x), equal priors
    ax = fig.subplots()
    ax.fill_between(X, marginal, color=t.faint, label="p(x), s = 0")
    for scale, colour in zip(SCALES, (t.blue, t.orange, t.red), strict=True):
        tilted = wanted * posterior ** (scale - 1)
        tilted /= tilted.sum() * (X[1] - X[0])
        ax.plot(X, tilted, color=colour, label=f"s = {scale}")
    ax.set_xlabel("x")
    ax.set_yticks([])
    ax.set_ylabel("density")
    ax.text(-1.5, 0.23, "other\nclass", ha="center", color=t.muted, fontsize=9)
    ax.set_title(r"$p(x \mid c)\, p(c \mid x)^{s-1}$", fontsize=11)
    ax.legend(loc="upper left")
