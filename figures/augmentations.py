"""Common image augmentations applied to one procedurally drawn picture."""

import numpy as np
from _style import theme
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

HEIGHT = 3.9
SIZE = 160


def scene():
    """A small landscape: sky, ground, a house on the left and the sun top right."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    sky = np.stack([0.35 + 0.4 * y, 0.6 + 0.3 * y, np.full_like(y, 0.95)], axis=-1)
    ground = np.stack([0.25 + 0.1 * y, 0.55 + 0.15 * (1 - y), 0.25 + 0 * y], axis=-1)
    image = np.where((y > 0.68)[..., None], ground, sky)
    image[(x - 0.78) ** 2 + (y - 0.2) ** 2 < 0.1**2] = (1.0, 0.82, 0.2)
    house = (x > 0.14) & (x < 0.46) & (y > 0.45) & (y < 0.74)
    image[house] = (0.8, 0.33, 0.25)
    roof = (y > 0.27) & (y <= 0.45) & (np.abs(x - 0.3) < (y - 0.27) * 1.05)
    image[roof] = (0.42, 0.2, 0.14)
    image[(x > 0.26) & (x < 0.34) & (y > 0.6) & (y < 0.74)] = (0.3, 0.17, 0.1)
    image[(x > 0.37) & (x < 0.43) & (y > 0.52) & (y < 0.58)] = (0.95, 0.93, 0.7)
    return image


def crop(image, top, left, height, width):
    """The `height` x `width` window at (top, left), resized back to the full square (nearest
    pixel): a random resized crop changes the aspect ratio as well as position and scale."""
    rows = np.linspace(0, height - 1, SIZE).round().astype(int)
    cols = np.linspace(0, width - 1, SIZE).round().astype(int)
    return image[top + rows][:, left + cols]


def jitter(image, hue=0.05, saturation=1.3, brightness=0.8):
    hsv = rgb_to_hsv(image)
    hsv[..., 0] = (hsv[..., 0] + hue) % 1
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * brightness, 0, 1)
    return hsv_to_rgb(hsv)


def draw(fig, variant, code):
    theme(fig, variant)
    image = scene()
    views = (
        ("original", image),
        ("horizontal flip", image[:, ::-1]),
        ("random resized crop", crop(image, 36, 4, 100, 130)),
        ("colour jitter", jitter(image)),
    )
    for ax, (title, picture) in zip(fig.subplots(2, 2).flat, views, strict=True):
        ax.imshow(picture, interpolation="antialiased")
        ax.set_title(title, fontsize=11)
        ax.set_axis_off()
