"""The forward diffusion process: signal level for the linear and cosine schedules, and an
image noised along each."""

import numpy as np
from _style import bare, theme

HEIGHT = 3.3
USES = ("code-diffusion-q-sample",)
T = 1000
SHOWN = (0, 250, 500, 750, 950)


def linear_betas():
    return np.linspace(1e-4, 0.02, T)  # Ho et al. 2020, §4


def cosine_betas(s=0.008):
    # Nichol & Dhariwal 2021, Eq. 17: alpha_bar from a squared cosine, betas clipped at 0.999.
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
    return np.minimum(1 - f[1:] / f[:-1], 0.999)


def draw(fig, variant, code):
    t = theme(fig, variant)
    q_sample = code["code-diffusion-q-sample"].q_sample
    schedules = {"linear": (linear_betas(), t.blue), "cosine": (cosine_betas(), t.orange)}
    grid = fig.add_gridspec(3, len(SHOWN), height_ratios=[1.6, 1, 1])
    curve = fig.add_subplot(grid[0, :])
    steps = np.arange(T + 1)
    for name, (betas, colour) in schedules.items():
        alpha_bar = np.concatenate([[1.0], np.cumprod(1 - betas)])
        curve.plot(steps / T, alpha_bar, color=colour, label=name)
    curve.set_xlabel("t / T", labelpad=1)
    curve.set_ylabel(r"$\bar\alpha_t$")
    curve.set_yticks([0, 0.5, 1])
    curve.grid(True)
    curve.legend(loc="upper right")

    y, x = np.mgrid[-1:1:24j, -1:1:24j]
    image = np.where(x**2 + (y + 0.1) ** 2 < 0.4, 1.0, -1.0)  # a disc, in [-1, 1]
    noise = np.random.default_rng(0).normal(size=image.shape)
    for row, (name, (betas, colour)) in enumerate(schedules.items(), start=1):
        for col, step in enumerate(SHOWN):
            ax = bare(fig.add_subplot(grid[row, col]))
            ax.imshow(q_sample(image, step, betas, noise), cmap="gray", vmin=-1.5, vmax=1.5)
            if row == 2:
                ax.set_title(f"t={step}", fontsize=9, y=-0.38)
            if col == 0:
                ax.text(-4, 11.5, name, color=colour, fontsize=9, ha="right", va="center")
