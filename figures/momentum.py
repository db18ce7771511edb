"""Gradient descent with and without momentum in a narrow valley, same learning rate."""

import numpy as np
from _style import theme

HEIGHT = 2.5
CURVATURES = np.array([1.0, 20.0])
START = np.array([-8.0, 1.0])
RATE, BETA, STEPS = 0.095, 0.4, 20


def path(beta):
    w, velocity = START.copy(), np.zeros(2)
    points = [w]
    for _ in range(STEPS):
        velocity = beta * velocity - RATE * CURVATURES * w
        w = w + velocity
        points.append(w)
    return np.array(points)


def draw(fig, variant, code):
    t = theme(fig, variant)
    ax = fig.subplots()
    x, y = np.meshgrid(np.linspace(-9, 3, 300), np.linspace(-2.2, 2.2, 200))
    loss = 0.5 * (CURVATURES[0] * x**2 + CURVATURES[1] * y**2)
    ax.contour(x, y, loss, levels=np.geomspace(0.3, 80, 9), colors=t.faint, linewidths=1)
    for beta, colour, label in ((0.0, t.orange, "plain"), (BETA, t.blue, f"momentum {BETA:g}")):
        points = path(beta)
        ax.plot(points[:, 0], points[:, 1], "o-", color=colour, ms=3.5, lw=1.6, label=label)
    ax.plot(0, 0, "*", color=t.fg, ms=11)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[["left", "bottom"]].set_visible(False)
    ax.set_title(f"{STEPS} steps, learning rate {RATE:g}", fontsize=11)
    ax.legend(loc="lower right", ncols=2)
