"""A reliability diagram of an overconfident classifier, before and after temperature scaling
fitted on held-out data (synthetic logits whose labels are drawn from a known softmax)."""

import functools

import numpy as np
from _style import theme
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

HEIGHT = 2.6
USES = ("code-expected-calibration-error", "code-fit-temperature")
BINS = 10


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@functools.cache
def panels(fit_temperature):
    """Each test prediction's confidence and correctness before and after scaling: the same for
    both variants, so computed once (fitting the temperature on 10,000 examples takes a while)."""
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(20000, 10)) * 1.5
    labels = (softmax(true_logits).cumsum(axis=1) > rng.random((20000, 1))).argmax(axis=1)
    logits = 2.5 * true_logits  # the model is overconfident by a factor of 2.5
    held_out, test = slice(0, 10000), slice(10000, None)
    temperature = fit_temperature(logits[held_out], labels[held_out])
    shown = []
    for title, z in (
        ("before", logits[test]),
        (f"after (T = {temperature:.2f})", logits[test] / temperature),
    ):
        p = softmax(z)
        shown.append((title, p.max(axis=1), p.argmax(axis=1) == labels[test]))
    return shown


def draw(fig, variant, code):
    t = theme(fig, variant)
    ece = code["code-expected-calibration-error"].ece
    shown = panels(code["code-fit-temperature"].fit_temperature)
    axes = fig.subplots(1, 2, sharey=True)
    edges = np.linspace(0, 1, BINS + 1)
    for ax, (title, confidence, correct) in zip(axes, shown, strict=True):
        bins = np.digitize(confidence, edges[1:-1], right=True)
        count = np.bincount(bins, minlength=BINS)
        accuracy = np.bincount(bins, weights=correct, minlength=BINS) / np.maximum(count, 1)
        # The bars as one collection: cheaper to draw than ax.bar's ten separate rectangles.
        bars = [Rectangle((x, 0), 1 / BINS, h) for x, h in zip(edges[:-1], accuracy, strict=True)]
        ax.add_collection(PatchCollection(bars, facecolors=t.blue, edgecolors=t.bg))
        ax.plot([0, 1], [0, 1], color=t.muted, lw=1.2, ls="--")
        ax.set_title(f"{title}\nECE = {ece(confidence, correct, BINS):.3f}", fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ax.set_xlabel("confidence")
    axes[0].set_yticks([0, 0.5, 1])
    axes[0].set_ylabel("accuracy")
