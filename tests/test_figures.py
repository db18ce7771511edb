"""Drawing: every figure a note names becomes a light and a dark PNG, reproducibly and cached;
a missing or failing script is a problem at the note that names it."""

from __future__ import annotations

import io
import json
import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builder import figures, harness, sandbox
from builder.cache import Store
from builder.figures import Drawing, Figure, draw
from builder.load import load
from builder.notes import Note
from builder.problems import Location
from tests.conftest import REPO, write_project

WIDTH_PX = 720
MAX_PNG = 150_000
MAX_DECK_MEDIA = 3_000_000

SQUARE = """
    '''A filled square.'''

    from _look import COLOUR


    def draw(fig, variant, code):
        ax = fig.subplots()
        ax.add_patch(__import__("matplotlib.patches").patches.Rectangle((0, 0), 1, 1, color=COLOUR))
        fig.set_facecolor("white" if variant == "light" else "black")
"""
LOOK = 'COLOUR = "tab:blue"\n'
BAR = """
    '''A bar as tall as the code note says.'''

    USES = ("code-height",)


    def draw(fig, variant, code):
        fig.subplots().bar([0], [code["code-height"].height()])
"""
BROKEN = """
    '''Fails while drawing.'''


    def draw(fig, variant, code):
        raise ValueError("the axes ran away")
"""


def note(
    note_id: str, *, figure: str | None = None, code: str | None = None, line: int = 3
) -> Note:
    return Note(
        id=note_id,
        location=Location(Path("source/test.yaml"), line),
        deck="Test",
        kind="basic",
        front="?",
        back="!",
        code=code,
        figure=figure,
    )


def project(tmp_path: Path, **scripts: str) -> Path:
    """A figures folder holding `scripts` (file stem -> text) and the module `_look.py`."""
    files = {f"figures/{stem}.py": text for stem, text in scripts.items()}
    write_project(tmp_path, {"figures/_look.py": LOOK, **files})
    return tmp_path / "figures"


def draw_in(tmp_path: Path, notes: list[Note], cache: str = "cache") -> Drawing:
    return draw(notes, figures_dir=tmp_path / "figures", cache=Store(tmp_path / cache))


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        yield data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def corner_brightness(path: Path) -> int:
    """Sum of R, G and B of the top-left pixel."""
    with Image.open(path) as image:
        red, green, blue = image.convert("RGB").getpixel((0, 0))  # type: ignore[misc]
    return int(red + green + blue)


# --- A tiny project of our own ---


def test_a_named_figure_becomes_a_light_and_a_dark_png_named_by_their_content(
    tmp_path: Path,
) -> None:
    project(tmp_path, square=SQUARE)
    drawing = draw_in(tmp_path, [note("a", figure="square")])
    assert drawing.problems == ()
    assert drawing.drawn == 1
    square = drawing.figures["square"]
    assert re.fullmatch(r"fig-square-light-[0-9a-f]{10}\.png", square.light.name)
    assert re.fullmatch(r"fig-square-dark-[0-9a-f]{10}\.png", square.dark.name)
    for media in (square.light, square.dark):
        # Named by the hash of their bytes, as is the stored file.
        assert media.path.name.startswith(media.name.removesuffix(".png")[-10:])
        assert png_size(media.path)[0] == WIDTH_PX
    assert corner_brightness(square.light.path) > corner_brightness(square.dark.path)


def test_only_the_figures_that_notes_name_are_drawn(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE, broken=BROKEN)
    drawing = draw_in(tmp_path, [note("a", figure="square"), note("b")])
    assert list(drawing.figures) == ["square"]
    assert drawing.problems == ()
    assert drawing.drawn == 1


def test_a_figure_named_by_several_notes_is_drawn_once(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    drawing = draw_in(tmp_path, [note("a", figure="square"), note("b", figure="square")])
    assert drawing.drawn == 1
    assert list(drawing.figures) == ["square"]


def test_pngs_carry_no_metadata_and_two_runs_give_the_same_bytes(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    first = draw_in(tmp_path, [note("a", figure="square")], cache="one").figures["square"]
    second = draw_in(tmp_path, [note("a", figure="square")], cache="two").figures["square"]
    assert (first.light.name, first.dark.name) == (second.light.name, second.dark.name)
    assert first.light.path.read_bytes() == second.light.path.read_bytes()
    assert first.dark.path.read_bytes() == second.dark.path.read_bytes()
    kinds = {kind for kind, _ in png_chunks(first.light.path.read_bytes())}
    assert kinds <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def test_a_fresh_worker_and_one_that_drew_before_give_the_same_bytes(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE, broken=BROKEN)
    sandbox.shutdown()  # the next draw starts a worker of its own
    fresh = draw_in(tmp_path, [note("a", figure="square")], cache="fresh").figures["square"]
    draw_in(tmp_path, [note("b", figure="broken")], cache="between")  # a job that fails between

    warm = draw_in(tmp_path, [note("a", figure="square")], cache="warm").figures["square"]

    assert fresh.light.path.read_bytes() == warm.light.path.read_bytes()
    assert fresh.dark.path.read_bytes() == warm.dark.path.read_bytes()


MATH = """
def draw(fig, variant, code):
    ink = "black" if variant == "light" else "white"
    fig.set_facecolor("white" if variant == "light" else "none")  # see-through: shows leftovers
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, 1, 4], color=ink)
    ax.set_title(r"$\\sigma(x) = \\frac{1}{1 + e^{-x}}$", color=ink)
    ax.set_xlabel("a longer label, in " + variant, color=ink)
"""


def test_a_variant_drawn_after_the_other_is_the_variant_drawn_alone() -> None:
    # The variants of a figure share one renderer, and with it matplotlib's caches of text
    # sizes and parsed math (#19): nothing of the first variant may show in the second.
    job = {
        "name": "math",
        "script": {"name": "math.py", "source": MATH},
        "modules": {},
        "code": {},
        "width_in": figures.WIDTH_IN,
        "height_in": figures.DEFAULT_HEIGHT_IN,
        "dpi": figures.DPI,
        "colors": figures.PALETTE_COLORS,
    }
    finders = list(sys.meta_path)
    try:
        both = harness.draw_figure({**job, "variants": ["light", "dark"]})
        alone = {v: harness.draw_figure({**job, "variants": [v]})[v] for v in ("light", "dark")}
    finally:
        sys.meta_path[:] = finders
    assert both == alone
    assert both["light"] != both["dark"]


def opaque(rgb: np.ndarray) -> np.ndarray:
    """Pixels as Agg hands them over: height x width x RGBA."""
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    return np.ascontiguousarray(np.dstack([rgb, alpha]).astype(np.uint8))


def decoded(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "P"
        return np.asarray(image.convert("RGB")).astype(int)


def test_a_figure_of_few_colours_keeps_every_colour_exactly() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (256, 3))[np.arange(40 * 64) % 256]
    picture = rgb.reshape(40, 64, 3)

    png = harness.quantized(opaque(picture), figures.PALETTE_COLORS)

    assert (decoded(png) == picture).all()


def test_a_small_mark_in_a_colour_of_its_own_keeps_its_colour() -> None:
    # 513 colours: a white page, a band of 512 colours, and a 3 x 3 mark. Median cut, which
    # splits the colours by how many pixels have them, moved the mark 28 levels.
    picture = np.full((100, 512, 3), 255)
    ramp = np.arange(512)
    picture[20:80] = np.stack([ramp % 256, ramp // 2, 255 - ramp % 256], axis=1)
    picture[:3, :3] = (213, 94, 0)

    drawn = decoded(harness.quantized(opaque(picture), figures.PALETTE_COLORS))

    assert (drawn[:3, :3] == (213, 94, 0)).all()
    assert (drawn[90:] == 255).all()
    assert np.abs(drawn - picture).max() <= 3


def test_a_gradient_stays_smooth_beside_stray_pixels_of_every_colour() -> None:
    # A sky of 360 colours over most of the picture, and 300 single pixels of random colours:
    # entries go where the pixels are. Spent on the strays first, the sky showed bands 15
    # levels deep; median cut moved a stray pixel 140 levels.
    picture = np.full((200, 720, 3), 255)
    ramp = np.arange(720)
    picture[:150] = np.stack([ramp // 3, 60 + ramp // 6, 255 - ramp // 4], axis=1)
    picture[180, :300] = np.random.default_rng(1).integers(0, 256, (300, 3))

    png = harness.quantized(opaque(picture), figures.PALETTE_COLORS)
    error = np.abs(decoded(png) - picture).max(axis=2)

    assert error[:150].max() <= 1
    assert error.max() <= 40


def test_a_second_draw_takes_the_figure_from_the_cache(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    first = draw_in(tmp_path, [note("a", figure="square")])
    again = draw_in(tmp_path, [note("a", figure="square")])
    assert again.drawn == 0
    assert again.figures == first.figures


def test_editing_a_module_the_script_imports_draws_it_again(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    before = draw_in(tmp_path, [note("a", figure="square")]).figures["square"]
    (tmp_path / "figures" / "_look.py").write_text('COLOUR = "tab:red"\n')
    after = draw_in(tmp_path, [note("a", figure="square")])
    assert after.drawn == 1
    assert after.figures["square"].light.name != before.light.name


def scans_file(tmp_path: Path, cache: str = "cache") -> Path:
    (memo,) = (tmp_path / cache / figures.SCANS).glob("*.json")
    return memo


def test_an_unchanged_script_is_not_parsed_again(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    draw_in(tmp_path, [note("a", figure="square")])
    memo = scans_file(tmp_path)
    data = json.loads(memo.read_text())
    # Plant a marker: a script whose scan comes from the memo now uses a note that is not there.
    data = {key: [scan[0], ["code-planted"]] for key, scan in data.items()}
    memo.write_text(json.dumps(data))

    (problem,) = draw_in(tmp_path, [note("a", figure="square")]).problems

    assert "'code-planted'" in problem.message


def test_an_edited_script_is_read_again(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    assert draw_in(tmp_path, [note("a", figure="square")]).problems == ()
    script = tmp_path / "figures" / "square.py"
    script.write_text('USES = ("code-side",)\n' + script.read_text())

    (problem,) = draw_in(tmp_path, [note("a", figure="square")]).problems

    assert "draws with the code of 'code-side'" in problem.message


@pytest.mark.parametrize(
    "damage",
    [
        "",
        "{not json",
        "[]",
        '{"k": "ab"}',
        '{"k": [["_look"], 3]}',
    ],
)
def test_a_damaged_scan_memo_is_ignored_and_replaced(tmp_path: Path, damage: str) -> None:
    project(tmp_path, square=SQUARE)
    first = draw_in(tmp_path, [note("a", figure="square")])
    memo = scans_file(tmp_path)
    whole = json.loads(memo.read_text())
    memo.write_text(damage)

    again = draw_in(tmp_path, [note("a", figure="square")])

    assert (again.problems, again.figures, again.drawn) == ((), first.figures, 0)
    assert json.loads(memo.read_text()) == whole


def test_a_figure_draws_with_the_code_of_the_notes_it_uses(tmp_path: Path) -> None:
    project(tmp_path, bar=BAR)

    def notes(height: int) -> list[Note]:
        code = f"def height():\n    return {height}\n"
        return [note("code-height", code=code), note("a", figure="bar")]

    low = draw_in(tmp_path, notes(1))
    high = draw_in(tmp_path, notes(5))
    assert (low.problems, high.problems) == ((), ())
    assert high.drawn == 1
    assert high.figures["bar"].light.name != low.figures["bar"].light.name


def test_an_unknown_figure_is_a_problem_at_every_note_naming_it(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    drawing = draw_in(
        tmp_path, [note("a", figure="sqare", line=4), note("b", figure="sqare", line=9)]
    )
    assert drawing.figures == {}
    assert [(p.location.line, p.note_id) for p in drawing.problems] == [(4, "a"), (9, "b")]
    text = str(drawing.problems[0])
    assert text.startswith("source/test.yaml:4: a: unknown figure 'sqare'")
    assert "did you mean 'square'?" in text


def test_a_failing_script_is_a_problem_at_the_note_with_the_script_traceback(
    tmp_path: Path,
) -> None:
    project(tmp_path, broken=BROKEN, square=SQUARE)
    drawing = draw_in(tmp_path, [note("a", figure="broken", line=7), note("b", figure="square")])
    assert list(drawing.figures) == ["square"]
    (problem,) = drawing.problems
    assert (problem.location, problem.note_id) == (Location(Path("source/test.yaml"), 7), "a")
    text = str(problem)
    assert text.startswith("source/test.yaml:7: a: figure 'broken' failed")
    assert re.search(r'broken\.py", line 5, in draw', text)
    assert "ValueError: the axes ran away" in text
    assert "builder/figures.py" not in text  # only the script's own frames


def test_a_script_that_does_not_parse_is_a_problem_at_the_note(tmp_path: Path) -> None:
    project(tmp_path, typo="def draw(fig, variant, code)\n    pass\n")
    (problem,) = draw_in(tmp_path, [note("a", figure="typo")]).problems
    assert problem.note_id == "a"
    assert "syntax error" in problem.message
    assert "typo.py:1:" in problem.message


def test_a_syntax_error_in_an_imported_module_names_that_module(tmp_path: Path) -> None:
    project(tmp_path, square=SQUARE)
    (tmp_path / "figures" / "_look.py").write_text("COLOUR = (\n")
    (problem,) = draw_in(tmp_path, [note("a", figure="square")]).problems
    assert "_look.py:1:" in problem.message


def test_a_script_without_draw_is_a_problem(tmp_path: Path) -> None:
    project(tmp_path, empty="'''Nothing here.'''\n")
    (problem,) = draw_in(tmp_path, [note("a", figure="empty")]).problems
    assert "defines no function draw(fig, variant, code)" in problem.message


def test_using_a_note_that_has_no_code_is_a_problem(tmp_path: Path) -> None:
    project(tmp_path, bar=BAR)
    (problem,) = draw_in(tmp_path, [note("code-height"), note("a", figure="bar")]).problems
    assert problem.note_id == "a"
    assert "'code-height'" in problem.message


def test_a_script_that_resizes_the_figure_is_a_problem(tmp_path: Path) -> None:
    wide = "def draw(fig, variant, code):\n    fig.set_size_inches(8, 3)\n"
    project(tmp_path, wide=wide)
    (problem,) = draw_in(tmp_path, [note("a", figure="wide")]).problems
    assert "set HEIGHT instead" in problem.message


def test_a_script_that_runs_too_long_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figures, "TIMEOUT_S", 1.0)
    slow = "import time\n\n\ndef draw(fig, variant, code):\n    time.sleep(60)\n"
    project(tmp_path, slow=slow)
    (problem,) = draw_in(tmp_path, [note("a", figure="slow")]).problems
    assert problem.message.startswith("figure 'slow' (")
    assert problem.message.endswith("slow.py) timed out after 1 s")


def test_a_png_over_the_size_budget_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figures, "MAX_PNG_BYTES", 500)
    project(tmp_path, square=SQUARE)
    drawing = draw_in(tmp_path, [note("a", figure="square")])
    assert drawing.figures == {}
    (problem,) = drawing.problems
    assert "KB a figure may take" in problem.message


# --- The repository's own figures ---


def repository_notes() -> list[Note]:
    """The notes in source/, plus one naming each script, so that unnamed scripts run too."""
    notes = list(load(REPO).notes)
    scripts = sorted(p.stem for p in (REPO / "figures").glob("*.py") if not p.stem.startswith("_"))
    extra = [note(f"names-{stem}", figure=stem) for stem in scripts]
    return notes + extra


@pytest.fixture(scope="module")
def repository_drawing(built_repo: Path) -> Drawing:
    # From the cache of the deck the session built: the figures notes name are drawn once per
    # test run, and only the scripts no note names are drawn here.
    cache = Store(built_repo / ".cache")
    return draw(repository_notes(), figures_dir=built_repo / "figures", cache=cache)


def test_every_figure_script_in_the_repository_draws(repository_drawing: Drawing) -> None:
    assert [str(p) for p in repository_drawing.problems] == []
    scripts = {p.stem for p in (REPO / "figures").glob("*.py") if not p.stem.startswith("_")}
    assert set(repository_drawing.figures) == scripts
    for figure in repository_drawing.figures.values():
        for media in (figure.light, figure.dark):
            assert png_size(media.path)[0] == WIDTH_PX, media.name


def test_the_repository_figures_keep_the_size_budget(repository_drawing: Drawing) -> None:
    sizes = {
        media.name: media.path.stat().st_size
        for figure in repository_drawing.figures.values()
        for media in (figure.light, figure.dark)
    }
    assert max(sizes.values()) <= MAX_PNG
    assert sum(sizes.values()) <= MAX_DECK_MEDIA


def test_the_repository_figures_are_byte_identical_when_drawn_again(
    repository_drawing: Drawing, tmp_path: Path
) -> None:
    # A sample, drawn afresh: one that draws with an answer, one that does not.
    sample = ("iou", "activations")
    code_notes = [replace(n, figure=None) for n in load(REPO).notes if n.code]
    notes = code_notes + [note(f"names-{name}", figure=name) for name in sample]
    again = draw(notes, figures_dir=REPO / "figures", cache=Store(tmp_path))
    assert again.drawn == len(sample)

    def contents(figure: Figure) -> tuple[str, bytes, str, bytes]:
        light, dark = figure.light, figure.dark
        return light.name, light.path.read_bytes(), dark.name, dark.path.read_bytes()

    for name in sample:
        assert contents(again.figures[name]) == contents(repository_drawing.figures[name]), name


ALGORITHMS = {
    "iou": "code-iou",
    "nms": "code-nms",
    "convolution": "code-conv2d",
    "max-pooling": "code-max-pool",
    "receptive-field": "code-receptive-field",
    "roc-curve": "code-roc-curve",
    "pr-curve": "code-average-precision",
}


@pytest.mark.parametrize(("figure", "note_id"), ALGORITHMS.items())
def test_a_figure_of_an_algorithm_draws_with_the_answer_in_source(
    figure: str, note_id: str, tmp_path: Path
) -> None:
    # Without its code note the figure cannot be drawn: it takes the answer from there.
    code_notes = [replace(n, figure=None) for n in load(REPO).notes if n.code]
    assert note_id in {n.id for n in code_notes}
    without = [n for n in code_notes if n.id != note_id] + [note("a", figure=figure)]
    drawing = draw(without, figures_dir=REPO / "figures", cache=Store(tmp_path))
    (problem,) = drawing.problems
    assert f"'{note_id}'" in problem.message
    assert drawing.drawn == 0
