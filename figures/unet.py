"""U-Net: an encoder that halves resolution, a decoder that restores it, joined by skips."""

from _style import bare, theme
from matplotlib.collections import PatchCollection
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

HEIGHT = 3.4
CHANNELS = (64, 128, 256, 512, 1024)  # per level; the last is the bottleneck
HEIGHTS = (1.3, 0.92, 0.65, 0.46, 0.33)  # drawn size ~ spatial resolution, halved per level
WIDTHS = (0.26, 0.36, 0.48, 0.62, 0.8)  # drawn size ~ channels
STEP_X, STEP_Y, SPAN = 0.68, 1.2, 7.4


def draw(fig, variant, code):
    t = theme(fig, variant)
    ax = bare(fig.subplots())
    depth = len(CHANNELS) - 1

    def arrow(start, end, colour, style="-"):
        # add_artist, not add_patch: the limits are set at the end, so there is no need to
        # measure every arrow for autoscaling (which costs as much as drawing it).
        ax.add_artist(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=12,
                color=colour,
                lw=1.8,
                ls=style,
                zorder=1,
            )
        )

    # The blocks are drawn at the end as one collection, cheaper than separate patches.
    blocks, colours = [], []

    def block(cx, cy, w, h, colour):
        blocks.append(Rectangle((cx - w / 2, cy - h / 2), w, h))
        colours.append(colour)

    centres = []
    for level in range(depth + 1):
        y = -level * STEP_Y
        left = level * STEP_X
        right = SPAN - level * STEP_X
        w, h = WIDTHS[level], HEIGHTS[level]
        if level == depth:
            mid = (left + right) / 2
            block(mid, y, w, h, t.purple)
            ax.text(mid, y - h / 2 - 0.1, f"{CHANNELS[level]}", ha="center", va="top", fontsize=10)
            centres.append((mid, mid, y))
            break
        block(left, y, w, h, t.sky)
        # The decoder block: the copied encoder features beside the upsampled ones.
        block(right - w / 2, y, w, h, t.sky)
        block(right + w / 2, y, w, h, t.green)
        ax.text(
            left + w / 2, y - h / 2 - 0.06, f"{CHANNELS[level]}", ha="right", va="top", fontsize=10
        )
        arrow((left + w / 2, y), (right - w, y), t.blue, "--")
        centres.append((left, right, y))
    for level in range(depth):
        (l0, r0, y0), (l1, r1, y1) = centres[level], centres[level + 1]
        h0 = HEIGHTS[level]
        w1 = WIDTHS[level + 1]
        arrow((l0 + WIDTHS[level] / 2, y0 - h0 / 2), (l1 - w1 / 2, y1), t.orange)
        # A decoder block is two blocks wide; the bottleneck is one.
        right_edge = r1 + (w1 if level + 1 < depth else w1 / 2)
        arrow((right_edge, y1), (r0 + WIDTHS[level] / 2, y0 - h0 / 2), t.green)
    ax.add_collection(
        PatchCollection(
            blocks, facecolors=colours, edgecolors=t.fg, linewidths=1, joinstyle="miter", zorder=2
        )
    )
    top = HEIGHTS[0] / 2
    ax.text(0, top + 0.15, "image", ha="center", va="bottom", fontsize=11)
    ax.text(SPAN, top + 0.15, "mask", ha="center", va="bottom", fontsize=11)
    handles = [
        Line2D([], [], color=t.orange, lw=2),
        Line2D([], [], color=t.green, lw=2),
        Line2D([], [], color=t.blue, lw=2, ls="--"),
    ]
    ax.legend(
        handles,
        ["pool", "up-conv", "copy + concat"],
        loc="lower center",
        bbox_to_anchor=(0.5, -0.08),
        ncols=3,
        columnspacing=1.0,
        handlelength=1.5,
    )
    ax.set_xlim(-0.5, SPAN + 0.8)
    ax.set_ylim(-depth * STEP_Y - 1.2, top + 0.6)
