"""A binary confusion matrix, and the precision and recall read from it."""

from _style import bare, theme
from matplotlib.patches import Rectangle

HEIGHT = 1.9
# (row = actual, column = predicted): name, count, correct?
CELLS = {
    (0, 0): ("TP", 40, True),
    (0, 1): ("FN", 10, False),
    (1, 0): ("FP", 5, False),
    (1, 1): ("TN", 45, True),
}


def draw(fig, variant, code):
    t = theme(fig, variant)
    ax = bare(fig.subplots())
    for (row, col), (name, count, correct) in CELLS.items():
        x, y = col, 1 - row
        colour = t.green if correct else t.red
        ax.add_patch(Rectangle((x, y), 1, 1, fc=colour, alpha=0.3, ec=t.bg, lw=3))
        ax.text(x + 0.5, y + 0.62, name, ha="center", va="center", fontsize=13, weight="bold")
        ax.text(x + 0.5, y + 0.3, f"{count}", ha="center", va="center", fontsize=12)
    ax.text(1, 2.3, "predicted", ha="center", va="bottom", fontsize=11, color=t.muted)
    ax.text(0.5, 2.02, "+", ha="center", va="bottom", fontsize=12)
    ax.text(1.5, 2.02, "\N{MINUS SIGN}", ha="center", va="bottom", fontsize=12)
    ax.text(-0.5, 1, "actual", ha="center", va="center", rotation=90, fontsize=11, color=t.muted)
    ax.text(-0.08, 1.5, "+", ha="right", va="center", fontsize=12)
    ax.text(-0.08, 0.5, "\N{MINUS SIGN}", ha="right", va="center", fontsize=12)
    tp, fn, fp = CELLS[(0, 0)][1], CELLS[(0, 1)][1], CELLS[(1, 0)][1]
    ax.text(
        2.25,
        1.45,
        rf"precision $= \dfrac{{TP}}{{TP+FP}} = {tp / (tp + fp):.2f}$",
        va="center",
        fontsize=11,
    )
    ax.text(
        2.25,
        0.55,
        rf"recall $= \dfrac{{TP}}{{TP+FN}} = {tp / (tp + fn):.2f}$",
        va="center",
        fontsize=11,
    )
    ax.set_xlim(-0.7, 5.1)
    ax.set_ylim(-0.05, 2.65)
