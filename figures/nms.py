"""Non-maximum suppression: overlapping detections of one object collapse to the best."""

import numpy as np
from _style import bare, theme
from matplotlib.patches import Rectangle

HEIGHT = 2.5
USES = ("code-nms",)

# Two objects, each detected several times; every duplicate overlaps its best box by IoU > 0.5.
BOXES = np.array(
    [
        [1.0, 4.0, 4.6, 8.0],
        [1.5, 3.4, 5.1, 7.3],
        [0.5, 4.4, 4.0, 8.7],
        [5.0, 0.6, 8.6, 4.0],
        [5.5, 0.3, 9.2, 3.3],
    ]
)
SCORES = np.array([0.92, 0.81, 0.67, 0.88, 0.60])
THRESHOLD = 0.5


def draw(fig, variant, code):
    t = theme(fig, variant)
    kept = set(code["code-nms"].nms(BOXES, SCORES, THRESHOLD).tolist())
    before, after = fig.subplots(1, 2)
    for ax, title in ((before, "before"), (after, f"after NMS ({THRESHOLD:g})")):
        bare(ax)
        ax.set_title(title)
        for i, (box, score) in enumerate(zip(BOXES, SCORES, strict=True)):
            if ax is after and i not in kept:
                continue
            colour = t.green if ax is after else t.blue
            x1, y1, x2, y2 = box
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=2))
            ax.text(
                x1,
                y2 + 0.15,
                f"{score:.2f}",
                color=colour,
                fontsize=10,
                va="bottom",
                weight="bold",
                zorder=5,
                bbox={"fc": t.bg, "ec": "none", "pad": 0.2},
            )
        ax.set_xlim(0.2, 9.5)
        ax.set_ylim(0.0, 9.4)
