"""Dropout: in each training step a random half of the hidden units is switched off."""

from _style import bare, theme
from matplotlib.collections import LineCollection

HEIGHT = 2.3
LAYERS = (3, 5, 5, 2)
DROPPED = {(1, 0), (1, 3), (2, 1), (2, 2), (2, 4)}  # (layer, unit): one fixed random draw


def positions(layer, count):
    return [(layer, (max(LAYERS) - 1) / 2 - (count - 1) / 2 + i) for i in range(count)]


def draw(fig, variant, code):
    t = theme(fig, variant)
    for ax, title, dropped in zip(
        fig.subplots(1, 2), ("full network", "dropout p = 0.5"), (set(), DROPPED), strict=True
    ):
        bare(ax)
        ax.set_title(title, fontsize=11)
        units = [positions(layer, n) for layer, n in enumerate(LAYERS)]
        # Every connection between two kept units, drawn as one collection of segments.
        edges = [
            [(x0, y0), (x1, y1)]
            for layer in range(len(LAYERS) - 1)
            for i, (x0, y0) in enumerate(units[layer])
            for j, (x1, y1) in enumerate(units[layer + 1])
            if (layer, i) not in dropped and (layer + 1, j) not in dropped
        ]
        ax.add_collection(
            LineCollection(edges, colors=t.muted, linewidths=0.9, capstyle="projecting", zorder=1)
        )
        # One marker line per style: kept units, and dropped units crossed out.
        kept, off = [], []
        for layer, layer_units in enumerate(units):
            for i, xy in enumerate(layer_units):
                (off if (layer, i) in dropped else kept).append(xy)
        ax.plot(*zip(*kept, strict=True), "o", ms=13, color=t.blue, zorder=2)
        if off:
            xs, ys = zip(*off, strict=True)
            ax.plot(xs, ys, "o", ms=13, mfc=t.bg, mec=t.faint, mew=1.5, zorder=2)
            ax.plot(xs, ys, "x", ms=8, color=t.red, mew=2, zorder=3)
        ax.set_xlim(-0.4, len(LAYERS) - 0.6)
        ax.set_ylim(-0.6, max(LAYERS) - 0.4)
