"""The pinhole camera: a side view of the projection, and a cube projected with K, R, t."""

import matplotlib as mpl
import numpy as np
from _style import bare, theme
from matplotlib.collections import LineCollection

HEIGHT = 2.6
USES = ("code-project-points",)

K = np.array([[300.0, 0.0, 160.0], [0.0, 300.0, 120.0], [0.0, 0.0, 1.0]])
WIDTH, HEIGHT_PX = 320, 240


def rotation(about_y, about_x):
    cy, sy, cx, sx = np.cos(about_y), np.sin(about_y), np.cos(about_x), np.sin(about_x)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    return rx @ ry


def cube():
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    edges = [
        (i, j) for i in range(8) for j in range(i + 1, 8) if np.sum(corners[i] != corners[j]) == 1
    ]
    return corners * 0.5, edges


def side_view(ax, t):
    """The y-z plane: the camera looks along +z, y points down, the image plane sits at z = f."""
    bare(ax)
    ax.set_aspect("auto")
    f = 1.0
    ax.annotate(
        "", xy=(6.6, 0), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": t.muted, "lw": 1.2}
    )
    ax.text(6.6, 0.18, "z", color=t.muted, fontsize=10, va="top")
    ax.plot([f, f], [-1.6, 0.7], color=t.blue, lw=2.4)
    ax.text(f - 0.1, -1.65, "image plane", color=t.blue, fontsize=9, va="bottom")
    near, far = np.array([3.0, -1.0]), np.array([6.0, -2.0])
    ax.plot([0, far[0]], [0, far[1]], color=t.orange, lw=1.4, ls="--")
    ax.plot([near[0], far[0]], [near[1], far[1]], "o", color=t.orange, ms=6)
    ax.plot(f, near[1] * f / near[0], "o", color=t.green, ms=7)
    ax.text(near[0] + 0.1, near[1] + 0.2, "X", color=t.orange, fontsize=10, va="top")
    ax.text(far[0] + 0.05, far[1] + 0.25, "2X", color=t.orange, fontsize=10, ha="center", va="top")
    ax.text(f - 0.1, -0.5, "x", color=t.green, fontsize=11, weight="bold", ha="right")
    ax.plot(0, 0, "s", color=t.fg, ms=6)
    ax.text(-0.2, -0.1, "C", color=t.fg, fontsize=10, ha="right", va="bottom")
    ax.annotate(
        "", xy=(f, 0.3), xytext=(0, 0.3), arrowprops={"arrowstyle": "<->", "color": t.fg, "lw": 1}
    )
    ax.text(f / 2, 0.4, "f", color=t.fg, fontsize=10, ha="center", va="top")
    ax.set_xlim(-0.7, 6.9)
    ax.set_ylim(0.9, -2.3)  # y down, as in the camera frame
    ax.set_title("same ray, same pixel", fontsize=10)


def draw(fig, variant, code):
    t = theme(fig, variant)
    project = code["code-project-points"].project_points
    # The pixel axes has its ticks on top: made, and titled, where matplotlib places its title
    # above them (see _style.py).
    with mpl.rc_context({"axes.titley": None}):
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    side_view(left, t)
    corners, edges = cube()
    pixels = project(corners, K, rotation(0.6, 0.35), np.array([0.2, 0.1, 3.2]))
    ax = right
    ax.set_aspect("equal")
    # The twelve edges as one artist (capped like `plot`'s lines) rather than twelve.
    ax.add_collection(
        LineCollection(pixels[edges], colors=t.purple, linewidths=1.8, capstyle="projecting"),
        autolim=False,
    )
    ax.plot(K[0, 2], K[1, 2], "+", color=t.fg, ms=9, mew=1.6)
    ax.text(8, HEIGHT_PX - 10, "+ : $(c_x, c_y)$", color=t.fg, fontsize=9)
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(HEIGHT_PX, 0)  # pixel origin top-left, v grows downwards
    ax.set_xticks([0, WIDTH])
    ax.set_yticks([0, HEIGHT_PX])
    ax.xaxis.tick_top()
    ax.spines["top"].set_visible(True)
    ax.spines["bottom"].set_visible(False)
    ax.spines["right"].set_visible(True)
    with mpl.rc_context({"axes.titley": None}):  # as when it was made: above its ticks
        ax.set_title("pixels: $u$ right, $v$ down", fontsize=10)
