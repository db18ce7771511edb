"""Epipolar geometry: each point in view 1 constrains its match to a line in view 2."""

import numpy as np
from _style import theme

HEIGHT = 1.95
USES = ("code-eight-point",)

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
W, H = 640, 480


def scene():
    """Camera 2 stands 1 m behind camera 1 and a little to the right, so its epipole is in view."""
    rng = np.random.default_rng(4)
    a = -0.15
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    t = np.array([-0.4, 0.05, 1.0])
    X = rng.uniform([-2.0, -1.5, 5.0], [2.0, 1.5, 9.0], size=(40, 3))
    x1 = X @ K.T
    x2 = (X @ R.T + t) @ K.T
    return x1[:, :2] / x1[:, 2:], x2[:, :2] / x2[:, 2:]


def clip_line(line):
    """The segment of a x + b y + c = 0 inside the image."""
    a, b, c = line
    xs = np.array([0.0, W])
    return xs, -(a * xs + c) / b


def draw(fig, variant, code):
    t = theme(fig, variant)
    x1, x2 = scene()
    F = code["code-eight-point"].fundamental_eight_point(x1, x2)
    shown = [0, 5, 11, 17, 23]
    colours = (t.blue, t.orange, t.green, t.red, t.purple)
    left, right = fig.subplots(1, 2)
    for ax, title in ((left, "view 1"), (right, "view 2")):
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
        ax.set_title(title, fontsize=10)
    for i, colour in zip(shown, colours, strict=True):
        left.plot(*x1[i], "o", color=colour, ms=6)
        xs, ys = clip_line(F @ np.append(x1[i], 1.0))  # l' = F x
        right.plot(xs, ys, color=colour, lw=1.4)
        right.plot(*x2[i], "o", color=colour, ms=6, mfc="none", mew=1.8)
    epipole = np.linalg.svd(F)[0][:, -1]  # left null vector: F^T e' = 0
    ex, ey = epipole[:2] / epipole[2]
    right.plot(ex, ey, "x", color=t.fg, ms=8, mew=2)
    right.text(ex + 22, ey - 30, "$e'$", color=t.fg, fontsize=11)
    right.text(W - 10, H - 20, r"$l' = Fx$", color=t.fg, fontsize=10, ha="right")
