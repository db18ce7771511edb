"""Depth from disparity, Z = fB/d, with the band a one-pixel matching error spans."""

import numpy as np
from _style import theme

HEIGHT = 2.8
USES = ("code-disparity-to-depth",)

FOCAL, BASELINE, ERROR = 700.0, 0.12, 1.0  # pixels, metres, pixels


def draw(fig, variant, code):
    t = theme(fig, variant)
    depth = code["code-disparity-to-depth"].disparity_to_depth
    d = np.linspace(4.5, 60, 300)
    ax = fig.subplots()
    ax.fill_between(
        d,
        depth(d + ERROR, FOCAL, BASELINE),
        depth(d - ERROR, FOCAL, BASELINE),
        color=t.orange,
        alpha=0.3,
        lw=0,
    )
    ax.plot(d, depth(d, FOCAL, BASELINE), color=t.blue)
    for far in (6.0, 42.0):
        z = depth(np.array([far]), FOCAL, BASELINE)[0]
        spread = (
            depth(np.array([far - ERROR]), FOCAL, BASELINE)[0]
            - depth(np.array([far + ERROR]), FOCAL, BASELINE)[0]
        )
        ax.annotate(
            f"{z:.0f} m ± {spread / 2:.1f} m"
            if spread > 1
            else f"{z:.0f} m ± {100 * spread / 2:.0f} cm",
            xy=(far, z),
            xytext=(far + 4, z + 4),
            color=t.fg,
            fontsize=10,
            arrowprops={"arrowstyle": "-", "color": t.muted, "lw": 1},
        )
    ax.text(33, 14, "± 1 px of disparity", color=t.orange, fontsize=10)
    ax.set_xlim(0, 60)
    ax.set_ylim(0, 20)
    ax.set_xlabel("disparity $d$ (px)")
    ax.set_ylabel("depth $Z$ (m)")
    ax.set_title("$Z = fB/d$, $f$ = 700 px, $B$ = 12 cm", fontsize=10)
