"""A ROC curve from scores of two overlapping classes, with its AUC."""

import numpy as np
from _style import theme

HEIGHT = 3.0
USES = ("code-roc-curve",)


def draw(fig, variant, code):
    t = theme(fig, variant)
    rng = np.random.default_rng(3)
    scores = np.r_[rng.normal(1.3, 1, 60), rng.normal(0, 1, 60)]
    labels = np.r_[np.ones(60), np.zeros(60)]
    fpr, tpr, auc = code["code-roc-curve"].roc_curve(scores, labels)
    ax = fig.subplots()
    ax.fill_between(fpr, tpr, color=t.blue, alpha=0.18, lw=0)
    ax.plot(fpr, tpr, color=t.blue, drawstyle="default")
    ax.plot([0, 1], [0, 1], color=t.muted, ls=":", lw=1.4)
    ax.text(0.55, 0.3, f"AUC = {auc:.2f}", color=t.blue, fontsize=12, weight="bold")
    ax.text(
        0.62,
        0.52,
        "random",
        color=t.muted,
        rotation=45,
        fontsize=10,
        ha="center",
        va="center",
        rotation_mode="anchor",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
    ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"])
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
