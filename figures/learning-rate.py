"""Training loss of minibatch SGD on one noisy linear regression, at three learning rates.

The largest curvature of this loss is about 8.9, so steps much beyond 2 / 8.9 ≈ 0.23 diverge.
"""

import numpy as np
from _style import theme

HEIGHT = 2.6
RATES = (("too small", 0.003), ("good", 0.05), ("too large", 0.3))
STEPS, BATCH, NOISE = 60, 10, 0.5


def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) * np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    y = x @ rng.normal(size=5) + rng.normal(0, NOISE, 200)
    return x, y


def losses(x, y, rate):
    rng = np.random.default_rng(1)  # the same minibatches for every rate
    w = np.zeros(x.shape[1])
    out = []
    for _ in range(STEPS + 1):
        out.append(0.5 * np.mean((x @ w - y) ** 2))
        batch = rng.choice(len(y), BATCH, replace=False)
        w = w - rate * x[batch].T @ (x[batch] @ w - y[batch]) / BATCH
    return np.array(out)


def draw(fig, variant, code):
    t = theme(fig, variant)
    x, y = problem()
    ax = fig.subplots()
    curves = [losses(x, y, rate) for _, rate in RATES]
    for (label, rate), curve, colour, style in zip(
        RATES, curves, (t.blue, t.green, t.red), ("--", "-", ":"), strict=True
    ):
        ax.plot(curve, color=colour, ls=style, label=f"{label} ({rate:g})")
    ax.legend(loc="upper right")
    ax.set_ylim(0, 1.5 * curves[0][0])
    ax.set_xlim(0, STEPS)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yticks([])
