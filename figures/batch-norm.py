"""Batch norm: three channels with different means and spreads, before and after."""

import numpy as np
from _style import theme
from matplotlib.collections import PatchCollection
from matplotlib.patches import StepPatch

HEIGHT = 3.0
CHANNELS = ((4.0, 1.5), (-3.0, 0.6), (0.5, 3.0))  # mean, standard deviation
BATCH = 4000
BINS = np.linspace(-10, 10, 81)


def draw(fig, variant, code):
    t = theme(fig, variant)
    rng = np.random.default_rng(2)
    x = np.stack([rng.normal(m, s, BATCH) for m, s in CHANNELS])
    # Each channel by its own batch statistics (gamma = 1, beta = 0).
    normed = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    before, after = fig.subplots(2, 1)
    colours = (t.blue, t.orange, t.green)
    for ax, data, title in (
        (before, x, "before"),
        (after, normed, r"after BN  ($\gamma = 1, \beta = 0$)"),
    ):
        # One StepPatch per channel, binned as ax.hist would. The three fills, then the three
        # outlines above them (zorder 2 and mitred corners, as ax.hist draws them), are each
        # one collection: much cheaper than six separate histograms.
        steps = [StepPatch(*np.histogram(channel, bins=BINS, density=True)) for channel in data]
        fills = PatchCollection(steps, facecolors=colours, alpha=0.35, linewidths=0)
        outlines = PatchCollection(steps, facecolors="none", edgecolors=colours, linewidths=1.8)
        outlines.set(joinstyle="miter", zorder=2)
        for collection in (fills, outlines):
            collection.sticky_edges.y.append(0)  # no margin below zero, as for ax.hist
            ax.add_collection(collection)
        ax.set_title(title, fontsize=11)
        ax.set_xlim(-9, 9)
        ax.set_xticks([-8, -4, 0, 4, 8])
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
