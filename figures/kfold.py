"""k-fold vs stratified k-fold on data sorted by class: which samples each fold tests."""

import numpy as np
from _style import bare, theme
from matplotlib.collections import PatchCollection
from matplotlib.patches import Patch, Rectangle

HEIGHT = 3.5
CLASSES = np.array([0] * 12 + [1] * 4)  # 12 of class A, then 4 of class B
K = 4


def kfold(n, k):
    return [np.arange(n)[f * n // k : (f + 1) * n // k] for f in range(k)]


def stratified(classes, k):
    folds = [[] for _ in range(k)]
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        for f, part in enumerate(np.array_split(members, k)):
            folds[f].extend(part.tolist())
    return [np.array(sorted(f)) for f in folds]


def draw(fig, variant, code):
    t = theme(fig, variant)
    colours = (t.blue, t.orange)
    n = CLASSES.size
    for ax, title, folds in zip(
        fig.subplots(2, 1),
        ("k-fold (no shuffle)", "stratified k-fold"),
        (kfold(n, K), stratified(CLASSES, K)),
        strict=True,
    ):
        bare(ax)
        ax.set_aspect("auto")
        ax.set_title(title, fontsize=11)
        boxes, fills = [], []
        for f, test in enumerate(folds):
            y = K - 1 - f
            for i in range(n):
                tested = i in test
                fills.append(colours[CLASSES[i]] if tested else t.faint)
                boxes.append(Rectangle((i, y), 0.88, 0.8))
            share = CLASSES[test].mean()
            ax.text(n + 0.3, y + 0.4, f"{share:.0%} B", va="center", fontsize=10)
            ax.text(-0.3, y + 0.4, f"{f + 1}", va="center", ha="right", fontsize=10, color=t.muted)
        ax.add_collection(PatchCollection(boxes, facecolors=fills, linewidths=0))
        ax.set_xlim(-1.2, n + 3.2)
        ax.set_ylim(-0.1, K)
    handles = [Patch(color=c) for c in (*colours, t.faint)]
    fig.legend(
        handles,
        ["test A", "test B", "train"],
        loc="outside lower center",
        ncols=3,
        handlelength=1.2,
        columnspacing=1.2,
    )
