"""A ViT's input: an image cut into patches, and the same patches as a sequence of tokens."""

import numpy as np
from _style import bare, theme
from matplotlib.colors import to_rgb

HEIGHT = 2.6
USES = ("code-vit-patchify",)
SIZE, PATCH = 32, 8  # a 32x32 image in 8x8 patches: a 4x4 grid, 16 tokens


def scene(t):
    """A small synthetic picture (sky, sun, hill) in the theme's colours, shape (32, 32, 3)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    sky = np.array(to_rgb(t.sky)) * (0.75 + 0.25 * y[..., None])
    image = np.where((y > 0.62 + 0.12 * np.sin(6 * x))[..., None], to_rgb(t.green), sky)
    sun = (x - 0.7) ** 2 + (y - 0.3) ** 2 < 0.02
    return np.where(sun[..., None], to_rgb(t.yellow), image)


def draw(fig, variant, code):
    t = theme(fig, variant)
    image = scene(t)
    tokens = code["code-vit-patchify"].patchify(image, PATCH)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.25])
    bare(left).imshow(image, extent=(0, SIZE, SIZE, 0))
    for k in range(0, SIZE + 1, PATCH):
        left.plot([k, k], [0, SIZE], color=t.fg, lw=1.2)
        left.plot([0, SIZE], [k, k], color=t.fg, lw=1.2)
    for i in range(len(tokens)):
        r, c = divmod(i, SIZE // PATCH)
        left.text(
            c * PATCH + 1,
            r * PATCH + 1.2,
            str(i + 1),
            fontsize=9,
            va="top",
            color=t.fg,
            bbox={"fc": t.bg, "ec": "none", "pad": 1.0},
        )
    left.set_xlim(-0.5, SIZE + 0.5)
    left.set_ylim(SIZE + 0.5, -0.5)
    left.set_title(f"{PATCH}x{PATCH} patches", fontsize=10)

    bare(right)
    per_row = 4
    for i, token in enumerate(tokens):
        r, c = divmod(i, per_row)
        x0, y0 = c * 1.25, r * 1.45
        right.imshow(token.reshape(PATCH, PATCH, 3), extent=(x0, x0 + 1, y0 + 1, y0))
        right.text(x0 + 0.5, y0 + 1.05, str(i + 1), fontsize=9, ha="center", va="top", color=t.fg)
    right.set_xlim(-0.1, per_row * 1.25)
    right.set_ylim(len(tokens) / per_row * 1.45 + 0.1, -0.1)
    right.set_title(f"tokens of {tokens.shape[1]} values", fontsize=10)
