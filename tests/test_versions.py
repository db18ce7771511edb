"""Versions of installed packages, read without importing them, are the ones pip reports."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from builder.versions import installed_version


@pytest.mark.parametrize(
    ("distribution", "module"),
    [
        ("numpy", "numpy"),
        ("matplotlib", "matplotlib"),
        ("pillow", "PIL"),
        ("markdown", "markdown"),
        ("pygments", "pygments"),
        ("typing_extensions", "typing_extensions"),  # a module, not a package
    ],
)
def test_a_wheel_installed_version_is_the_one_its_metadata_gives(
    distribution: str, module: str
) -> None:
    assert installed_version(distribution, module) == metadata.version(distribution)


def test_an_editable_install_falls_back_to_its_metadata() -> None:
    # This project, installed with `pip install -e`: its package has no dist-info beside it.
    assert installed_version("deckbuild", "builder") == metadata.version("deckbuild")


def test_reading_a_version_imports_neither_the_package_nor_importlib_metadata() -> None:
    program = (
        "import sys\n"
        "from builder.versions import installed_version\n"
        "installed_version('numpy', 'numpy')\n"
        "print('numpy' in sys.modules, 'importlib.metadata' in sys.modules)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == ["False", "False"]
