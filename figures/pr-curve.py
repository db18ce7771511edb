"""A precision-recall curve on imbalanced data: raw, interpolated, and AP as the area."""

import numpy as np
from _style import theme

HEIGHT = 3.0
USES = ("code-average-precision",)
POSITIVES, NEGATIVES = 30, 120


def draw(fig, variant, code):
    t = theme(fig, variant)
    rng = np.random.default_rng(5)
    scores = np.r_[rng.normal(1.6, 1, POSITIVES), rng.normal(0, 1, NEGATIVES)]
    labels = np.r_[np.ones(POSITIVES), np.zeros(NEGATIVES)]
    recall, precision, ap = code["code-average-precision"].average_precision(scores, labels)
    interpolated = np.maximum.accumulate(precision[::-1])[::-1]
    ax = fig.subplots()
    # Interpolated precision holds on each recall step (r_{i-1}, r_i]: a step drawn "pre".
    # Points that add no recall add no area; leaving them out keeps the step honest.
    gain = np.diff(np.r_[0, recall]) > 0
    steps_r = np.r_[0, recall[gain]]
    steps_p = np.r_[interpolated[gain][0], interpolated[gain]]
    ax.fill_between(steps_r, steps_p, step="pre", color=t.blue, alpha=0.18, lw=0)
    ax.plot(recall, precision, color=t.muted, lw=1.2, label="raw")
    ax.step(steps_r, steps_p, where="pre", color=t.blue, label="interpolated")
    base = POSITIVES / (POSITIVES + NEGATIVES)
    ax.axhline(base, color=t.muted, ls=":", lw=1.4)
    ax.text(0.02, base + 0.02, "random", color=t.muted, fontsize=10, va="bottom")
    ax.text(0.5, 0.42, f"AP = {ap:.2f}", color=t.blue, fontsize=12, weight="bold", ha="center")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.03)
    ax.set_aspect("equal")
    ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
    ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="upper right")
