"""The receptive field of one unit after three 3-wide layers, without and with dilation."""

from _style import bare, theme
from matplotlib.collections import LineCollection

HEIGHT = 3.1
USES = ("code-receptive-field",)

KERNEL = 3
STACKS = (("dilation 1, 1, 1", (1, 1, 1)), ("dilation 1, 2, 4", (1, 2, 4)))
WIDTH = 17  # input positions drawn


def draw(fig, variant, code):
    t = theme(fig, variant)
    receptive_field = code["code-receptive-field"].receptive_field
    centre = WIDTH // 2
    for ax, (title, dilations) in zip(fig.subplots(2, 1), STACKS, strict=True):
        bare(ax)
        depth = len(dilations)
        # Walk down from the top unit: each active unit reads KERNEL inputs, d apart.
        active = [{centre}]
        for d in reversed(dilations):
            active.insert(0, {u + d * o for u in active[0] for o in (-1, 0, 1)})
        # All connections as one collection of segments, all units as two scatters.
        links = [
            [(u, layer), (u + dilations[layer - 1] * o, layer - 1)]
            for layer in range(depth, 0, -1)
            for u in active[layer]
            for o in (-1, 0, 1)
        ]
        ax.add_collection(
            LineCollection(links, colors=t.blue, linewidths=1.1, capstyle="projecting", zorder=1)
        )
        on, off = [], []
        for layer in range(depth + 1):
            for x in range(WIDTH) if layer < depth else [centre]:
                (on if x in active[layer] else off).append((x, layer))
        ax.scatter(*zip(*off, strict=True), s=28, color=t.faint, zorder=2)
        ax.scatter(*zip(*on, strict=True), s=34, color=t.orange, zorder=3)
        for layer in range(1, depth + 1):
            effective = [d * (KERNEL - 1) + 1 for d in dilations[:layer]]
            r = receptive_field(effective, [1] * layer)
            ax.text(WIDTH + 0.3, layer, f"{r}", va="center", fontsize=11, color=t.fg)
        ax.text(WIDTH + 0.3, depth + 0.75, "RF", va="center", fontsize=10, color=t.muted)
        ax.text(-0.6, -0.75, "input", va="center", fontsize=10, color=t.muted)
        ax.set_title(title, fontsize=11)
        ax.set_xlim(-0.7, WIDTH + 1.6)
        ax.set_ylim(-1.1, depth + 1.0)
        ax.set_aspect("auto")
