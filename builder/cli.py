"""The `deckbuild` command: wires the stages together, prints, and exits. Nothing else does.

Exit status: 0 success, 1 a code answer failed verification, 2 invalid input; 130 after Ctrl-C
and 143 after SIGTERM, both of which leave every written file as it was.
Stage modules are imported inside the commands so that `--help` starts fast.

For tests of interrupted builds only: with `DECKBUILD_PAUSE_AT=writing` (the first deck is
staged, the others not yet) or `=committing` (every deck is staged, nothing replaced yet) in the
environment, `build` says `deckbuild: paused at <point>` on stderr there and waits for a line on
stdin. Unset, it does nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from builder.notes import Note
    from builder.package import Packaged
    from builder.problems import Location, Problem
    from builder.recipes import Recipe, TagExpression
    from builder.render import RenderedNote
    from builder.stamps import Stamped

OK, FAILED, INVALID = 0, 1, 2
LOCK_FILE = "notes.lock"
DIST = "dist"
CACHE = ".cache"
PREVIEW = "preview"
PAUSE_AT = "DECKBUILD_PAUSE_AT"


class Stop(Exception):
    """Ends a command with an exit status after its messages were printed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same cleanup runs."""


@dataclass(frozen=True)
class Context:
    root: Path
    jobs: int
    out: TextIO
    err: TextIO


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `deckbuild` with `argv` (default: the process's arguments); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    context = Context(
        root=Path(args.project).resolve(),
        jobs=max(1, args.jobs or os.cpu_count() or 1),
        out=sys.stdout,
        err=sys.stderr,
    )
    try:
        with _sigterm_as_interrupt(), _few_collections():
            status: int = args.command(args, context)
        return status
    except Stop as stop:
        return stop.status
    except KeyboardInterrupt as interrupt:
        print("deckbuild: interrupted; nothing was written", file=context.err)
        return 143 if isinstance(interrupt, Terminated) else 130


@contextmanager
def _few_collections() -> Iterator[None]:
    # A build makes many small objects that live to its end (nodes, notes, HTML) and hardly any
    # garbage cycles, and at the default thresholds the cycle collector ran hundreds of times
    # over the growing heap: half a second of a 20,000-note rebuild, more than linear in notes.
    # The thresholds are put back afterwards, for callers (tests) that go on running.
    before = gc.get_threshold()
    gc.set_threshold(200_000, 30, 30)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    # By default SIGTERM ends the process on the spot, leaving staged files behind.
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (main() called from a worker thread)
        return

    def terminate(number: int, frame: object) -> NoReturn:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deckbuild",
        description="Build verified Anki decks from source/*.yaml notes and decks/*.yaml recipes.",
        epilog="Exit status: 0 ok, 1 a code answer failed verification, 2 invalid input.",
    )

    def show_help(args: argparse.Namespace, context: Context) -> int:
        parser.print_help(context.out)
        return OK

    parser.set_defaults(command=show_help)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project", default=".", metavar="DIR", help="the project folder (default: here)"
    )
    common.add_argument(
        "--jobs", type=int, default=0, metavar="N", help="parallel workers (default: all cores)"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    build = commands.add_parser(
        "build",
        parents=[common],
        help="verify, draw, render and write dist/<recipe>.apkg",
        description="Build every recipe in decks/ (or the ones named) into dist/. Nothing is "
        "written unless every note loads and every code answer passes its tests.",
    )
    build.add_argument("recipes", nargs="*", metavar="RECIPE", help="recipe names (file stems)")
    build.add_argument(
        "--tags",
        metavar="EXPR",
        help="build one ad-hoc deck of the notes matching a tag expression, e.g. "
        "'topic::detection and not level::easy'",
    )
    build.add_argument(
        "--name", default="CV Interview Prep", help="deck name for --tags (default: %(default)s)"
    )
    build.add_argument(
        "--output",
        default="custom.apkg",
        help="file name in dist/ for --tags (default: %(default)s)",
    )
    build.add_argument(
        "--allow-breaking-changes",
        action="store_true",
        help="build even when a released note is missing or changed kind, a note type's "
        "schema changed, or a stamp is not newer (see the README before using it)",
    )
    build.set_defaults(command=_build)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="load, verify and draw everything; write nothing",
        description="Validate every note and recipe, run every code answer's tests and draw "
        "every figure, reporting all problems together. Writes no deck and no lock file.",
    )
    check.set_defaults(command=_check)

    listing = commands.add_parser(
        "list",
        parents=[common],
        help="show decks, recipes, tags and counts",
        description="Show the recipes, subdecks and tags with note counts, or the notes.",
    )
    listing.add_argument("--notes", action="store_true", help="list every note: id, deck, front")
    listing.add_argument("--tags", metavar="EXPR", help="only notes matching a tag expression")
    listing.set_defaults(command=_list)

    show = commands.add_parser(
        "preview",
        parents=[common],
        help="write every card as a web page to browse before importing",
        description="Verify, draw and render like build, then write each card's question and "
        "answer as Anki shows them, with an index to search by text and tag and a day/night "
        "switch. Open DIR/index.html in a browser.",
    )
    show.add_argument(
        "recipes", nargs="*", metavar="RECIPE", help="only these recipes' notes (default: all)"
    )
    show.add_argument(
        "--out",
        default=PREVIEW,
        metavar="DIR",
        help="folder, relative to the project (default: %(default)s)",
    )
    show.set_defaults(command=_preview, tags=None)
    return parser


# -- commands ----------------------------------------------------------------------------------


def _build(args: argparse.Namespace, context: Context) -> int:
    from builder.notetypes import note_type_schemas, note_type_texts
    from builder.package import package
    from builder.publish import exclusive, publish
    from builder.release import guard
    from builder.stamps import read_lock, stamp, write_lock

    started = time.monotonic()
    notes = _load(context)
    recipes = _chosen_recipes(args, context)
    # Every note, not only the recipes' ones: a figure may draw with a code note that a recipe
    # leaves out, and that code must be verified too. Both stages cache, so this costs little.
    rendered = _verify_draw_render(notes, context)
    dist = context.root / DIST

    def wait() -> None:
        print(
            f"deckbuild: waiting for another build of this project to finish with {DIST}/",
            file=context.err,
            flush=True,
        )

    def writer(recipe: Recipe, stamped: Stamped) -> Callable[[Path], Packaged]:
        chosen = {note.id for note in _select(recipe, notes)}
        return lambda path: package(
            recipe.name,
            [note for note in rendered if note.id in chosen],
            note_mods=stamped.note_mods,
            note_type_mods=stamped.note_type_mods,
            output=path,
            description=recipe.description,
        )

    # From reading the lock file to writing it, one build at a time: each stamps from the last.
    with exclusive(dist, on_wait=wait):
        lock_path = context.root / LOCK_FILE
        lock, problems = read_lock(lock_path, Path(LOCK_FILE))
        _stop_on(problems, context)
        stamped = stamp(rendered, note_type_texts(), lock, now=int(time.time()))
        release = guard(
            lock,
            stamped.lock,
            notes,
            note_type_schemas(),
            lock_file=Path(LOCK_FILE),
            lock_file_text=lock_path.read_text(encoding="utf-8") if lock_path.exists() else None,
        )
        _check_release(release.problems, args.allow_breaking_changes, context)
        written = publish(
            {dist / recipe.output: writer(recipe, stamped) for recipe in recipes},
            then=lambda: write_lock(lock_path, release.lock),
            checkpoint=lambda point: _pause(point, context),
        )
    rows = [
        [f"{DIST}/{recipe.output}", deck.decks, deck.notes, deck.cards, deck.media]
        for recipe in recipes
        for deck in [written[dist / recipe.output]]
    ]
    _table(["deck file", "subdecks", "notes", "cards", "media"], rows, context.out)
    print(f"built {len(rows)} deck(s) in {time.monotonic() - started:.1f} s", file=context.out)
    return OK


def _check(args: argparse.Namespace, context: Context) -> int:
    started = time.monotonic()
    notes = _load(context)
    recipes = _recipes(context)
    rendered = _verify_draw_render(notes, context)
    rows = [[r.location.path.stem, len(_select(r, notes))] for r in recipes]
    _table(["recipe", "notes"], rows, context.out)
    print(
        f"checked {len(rendered)} notes in {time.monotonic() - started:.1f} s: all good",
        file=context.out,
    )
    return OK


def _preview(args: argparse.Namespace, context: Context) -> int:
    from builder.preview import preview

    notes = _load(context)
    rendered = _verify_draw_render(notes, context)
    title = "CV Interview Prep: every note"
    if args.recipes:
        recipes = _chosen_recipes(args, context)
        chosen = {note.id for recipe in recipes for note in _select(recipe, notes)}
        rendered = tuple(note for note in rendered if note.id in chosen)
        title = ", ".join(recipe.name for recipe in recipes)
    written = preview(rendered, out_dir=context.root / args.out, title=title)
    print(
        f"wrote {len(written.cards)} cards of {len(rendered)} notes and {written.media} media "
        f"files; open {written.index} in a browser",
        file=context.out,
    )
    if not written.mathjax:
        print(
            "formulas show as their TeX source: install django-static-mathjax to typeset them",
            file=context.out,
        )
    return OK


def _list(args: argparse.Namespace, context: Context) -> int:
    from builder.recipes import Recipe, select

    notes = _load(context)
    if args.tags:
        notes = select(Recipe("", "", _nowhere(), include=_parse_tags(args.tags, context)), notes)
    if args.notes:
        for note in notes:
            first_line = (note.front or note.cloze).strip().splitlines()[0]
            print(f"{note.id:40} {note.deck:24} {_shorten(first_line, 70)}", file=context.out)
        return OK
    recipes = _recipes(context)
    _table(
        ["recipe", "deck", "file", "notes"],
        [[r.location.path.stem, r.name, r.output, len(select(r, notes))] for r in recipes],
        context.out,
    )
    print(file=context.out)
    _table(["subdeck", "notes"], sorted(Counter(n.deck for n in notes).items()), context.out)
    print(file=context.out)
    tags = Counter(tag for note in notes for tag in note.tags)
    _table(["tag", "notes"], sorted(tags.items()), context.out)
    kinds = Counter(n.kind for n in notes)
    code = sum(1 for n in notes if n.code)
    print(
        f"\n{len(notes)} notes: {kinds['basic']} basic ({code} with verified code), "
        f"{kinds['cloze']} cloze",
        file=context.out,
    )
    return OK


# -- stages, wired ---------------------------------------------------------------------------


def _load(context: Context) -> tuple[Note, ...]:
    from builder.load import load

    with _Progress(context, "loading notes"):
        loaded = load(context.root, cache_dir=context.root / CACHE)
    _stop_on(loaded.problems, context)
    return loaded.notes


def _recipes(context: Context) -> tuple[Recipe, ...]:
    from builder.recipes import load_recipes

    found = load_recipes(context.root)
    _stop_on(found.problems, context)
    return found.recipes


def _chosen_recipes(args: argparse.Namespace, context: Context) -> tuple[Recipe, ...]:
    from builder.recipes import Recipe

    if args.tags:
        if args.recipes:
            _fail(context, "give recipe names or --tags, not both", INVALID)
        recipe = Recipe(args.name, args.output, _nowhere(), include=_parse_tags(args.tags, context))
        return (recipe,)
    recipes = _recipes(context)
    if not recipes:
        _fail(context, f"no recipes in {context.root / 'decks'}", INVALID)
    if not args.recipes:
        return recipes
    by_name = {r.location.path.stem: r for r in recipes}
    unknown = [name for name in args.recipes if name not in by_name]
    if unknown:
        known = ", ".join(sorted(by_name))
        _fail(context, f"no recipe named {', '.join(unknown)} (recipes: {known})", INVALID)
    return tuple(by_name[name] for name in dict.fromkeys(args.recipes))


def _verify_draw_render(notes: Sequence[Note], context: Context) -> tuple[RenderedNote, ...]:
    # Verify before drawing: figures run the answer code of code notes, which must have passed.
    from builder.figures import draw
    from builder.render import render
    from builder.verify import verify

    cache = context.root / CACHE
    with _Progress(context, "verifying code answers") as progress:
        checked = verify(notes, cache_dir=cache, jobs=context.jobs, on_progress=progress.count)
    if checked.failures:
        for failure in checked.failures:
            print(failure.report, file=context.err)
            print(file=context.err)
        _fail(
            context,
            f"{len(checked.failures)} code answer(s) failed verification; no deck was written",
            FAILED,
        )
    print(
        f"verified {len(checked.evidence)} code answer(s), {checked.cases} case(s) "
        f"({checked.ran} run, {checked.cached} from cache)",
        file=context.out,
    )
    with _Progress(context, "drawing figures"):
        drawing = draw(
            notes, figures_dir=context.root / "figures", cache_dir=cache, jobs=context.jobs
        )
    _stop_on(drawing.problems, context)
    rendering = render(
        notes,
        evidence=checked.evidence,
        figures=drawing.figures,
        media_dir=context.root / "source" / "media",
        cache_dir=cache,
    )
    _stop_on(rendering.problems, context)
    return rendering.notes


# -- small pieces ------------------------------------------------------------------------------


def _select(recipe: Recipe, notes: Sequence[Note]) -> tuple[Note, ...]:
    from builder.recipes import select

    return select(recipe, notes)


def _parse_tags(text: str, context: Context) -> TagExpression:
    from builder.recipes import TagExpressionError, parse_tags

    try:
        return parse_tags(text)
    except TagExpressionError as error:
        _fail(context, f"--tags: {error}", INVALID)


def _nowhere() -> Location:
    from builder.problems import Location

    return Location(Path("<command line>"), 0)


def _stop_on(problems: Sequence[Problem], context: Context) -> None:
    if not problems:
        return
    for problem in sorted(problems, key=lambda p: p.location):
        print(problem, file=context.err)
    count = len(problems)
    _fail(context, f"{count} problem(s) in the input; nothing was written", INVALID)


def _check_release(problems: Sequence[Problem], allowed: bool, context: Context) -> None:
    if not problems:
        return
    for problem in sorted(problems, key=lambda p: p.location):
        print(problem, file=context.err)
    if not allowed:
        _fail(
            context,
            f"{len(problems)} change(s) would break notes that users already have; nothing was "
            "written. Fix them, or build with --allow-breaking-changes if you mean them (see "
            "the README, 'Releasing an update')",
            INVALID,
        )
    print(
        "deckbuild: building anyway, as --allow-breaking-changes asks; notes.lock will record "
        "the new state",
        file=context.err,
    )


def _pause(point: str, context: Context) -> None:
    # The test-only hook of the module docstring.
    if os.environ.get(PAUSE_AT) == point:
        print(f"deckbuild: paused at {point}", file=context.err, flush=True)
        sys.stdin.readline()


def _fail(context: Context, message: str, status: int) -> NoReturn:
    print(f"deckbuild: {message}", file=context.err)
    raise Stop(status)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], out: TextIO) -> None:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class _Progress:
    """Shows a stage on stderr once it has taken more than a second, with a count if given."""

    def __init__(self, context: Context, what: str) -> None:
        self.context = context
        self.what = what
        self.started = time.monotonic()
        self.shown = False
        self.live = context.err.isatty()

    def __enter__(self) -> _Progress:
        return self

    def count(self, done: int, total: int) -> None:
        if time.monotonic() - self.started < 1:
            return
        if self.live:
            print(f"\r{self.what}: {done}/{total}", end="", file=self.context.err, flush=True)
            self.shown = True
        elif done == total or not self.shown:
            print(f"{self.what}: {done}/{total}", file=self.context.err)
            self.shown = True

    def __exit__(self, *exc: object) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed >= 1:
            end = "\n" if self.live and self.shown else ""
            print(f"{end}{self.what}: done in {elapsed:.1f} s", file=self.context.err)
