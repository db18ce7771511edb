"""The look shared by every figure: day and night palettes, phone-sized fonts.

A figure's `draw(fig, variant, code)` starts with `t = theme(fig, variant)` and then picks its
colours from `t` (never hard-coded), so the night variant follows by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Theme:
    """Colours of one variant. Accents are Okabe-Ito hues (safe for colour-blind readers),
    brightened for the night variant so they keep their contrast on a dark page."""

    bg: str
    fg: str
    muted: str  # secondary text, reference lines
    faint: str  # grid lines, empty cells
    blue: str
    orange: str
    green: str
    red: str
    purple: str
    sky: str
    yellow: str
    cmap: str  # sequential colour map for heat maps

    @property
    def cycle(self) -> tuple[str, ...]:
        return (self.blue, self.orange, self.green, self.red, self.purple, self.sky)


LIGHT = Theme(
    bg="#ffffff",
    fg="#1a1a1a",
    muted="#6b6b6b",
    faint="#dddddd",
    blue="#0072b2",
    orange="#e69f00",
    green="#009e73",
    red="#d55e00",
    purple="#cc79a7",
    sky="#56b4e9",
    yellow="#f0e442",
    cmap="Blues",
)
DARK = Theme(
    bg="#222222",
    fg="#e8e8e8",
    muted="#a0a0a0",
    faint="#444444",
    blue="#5fb4f0",
    orange="#f5b840",
    green="#3fd0a0",
    red="#ff8a4c",
    purple="#e7a3cd",
    sky="#9fd6f7",
    yellow="#f3ea6a",
    cmap="cividis",
)

# Sizes in points: at 200 dpi shown 360 px wide, 1 pt is about 1.4 px on the phone.
BASE_PT = 11


def theme(fig: Figure, variant: str) -> Theme:
    """Sets fonts and colours for `variant` ("light" or "dark") and returns its palette."""
    t = {"light": LIGHT, "dark": DARK}[variant]
    mpl.rcParams.update(
        {
            "font.size": BASE_PT,
            "axes.titlesize": BASE_PT + 1,
            "axes.labelsize": BASE_PT,
            "xtick.labelsize": BASE_PT - 1,
            "ytick.labelsize": BASE_PT - 1,
            "legend.fontsize": BASE_PT - 1,
            "legend.frameon": False,
            "legend.handlelength": 1.6,
            "lines.linewidth": 2.2,
            "text.color": t.fg,
            "axes.labelcolor": t.fg,
            "axes.edgecolor": t.muted,
            "axes.facecolor": t.bg,
            "axes.titlecolor": t.fg,
            # Titles sit just above the axes. Left unset, matplotlib measures every axis's tick
            # labels at each layout pass to see whether a title must move up, which took a
            # tenth of the time drawing a figure takes (#19). An axes with ticks or a label on
            # top is made, and titled, in `rc_context({"axes.titley": None})` (as in
            # pinhole-projection.py).
            "axes.titley": 1.0,
            "axes.prop_cycle": mpl.cycler(color=list(t.cycle)),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "xtick.color": t.muted,
            "ytick.color": t.muted,
            "xtick.labelcolor": t.fg,
            "ytick.labelcolor": t.fg,
            "grid.color": t.faint,
            "grid.linewidth": 0.8,
            "hatch.color": t.fg,
            "patch.edgecolor": t.fg,
            "mathtext.fontset": "dejavusans",
        }
    )
    fig.set_facecolor(t.bg)
    return t


def bare(ax: Axes) -> Axes:
    """An axes for a diagram: no ticks, no frame, equal scales."""
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax
