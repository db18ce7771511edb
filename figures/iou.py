"""IoU of three pairs of equal boxes: small shifts already cost a lot of overlap."""

from _style import bare, theme
from matplotlib.patches import Rectangle

HEIGHT = 2.1
USES = ("code-iou",)

SIDE = 4.0
SHIFTS = ((2.0, 2.0), (1.0, 1.0), (0.5, 0.0))


def draw(fig, variant, code):
    t = theme(fig, variant)
    iou = code["code-iou"].iou
    fig.suptitle(r"$\mathrm{IoU} = \dfrac{|A \cap B|}{|A \cup B|}$", fontsize=13)
    for ax, (dx, dy) in zip(fig.subplots(1, 3), SHIFTS, strict=True):
        a = (0.0, 0.0, SIDE, SIDE)
        b = (dx, dy, SIDE + dx, SIDE + dy)
        bare(ax)
        inter = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
        ax.add_patch(
            Rectangle(
                inter[:2], inter[2] - inter[0], inter[3] - inter[1], color=t.green, alpha=0.55
            )
        )
        for box, colour in ((a, t.blue), (b, t.orange)):
            ax.add_patch(
                Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, lw=2.4, ec=colour)
            )
        # Centre each pair so that the three panels line up.
        cx, cy = (SIDE + dx) / 2, (SIDE + dy) / 2
        ax.set_xlim(cx - 3.3, cx + 3.3)
        ax.set_ylim(cy - 3.3, cy + 3.3)
        if (dx, dy) == SHIFTS[0]:
            ax.text(0.4, 0.4, "A", color=t.blue, fontsize=13, weight="bold")
            ax.text(
                b[2] - 0.4,
                b[3] - 0.4,
                "B",
                color=t.orange,
                fontsize=13,
                weight="bold",
                ha="right",
                va="top",
            )
        ax.set_title(f"{iou(a, b):.2f}", fontsize=14, color=t.fg)
