"""The `deckbuild` command: arguments to a `builder.pipeline.Request`, its `Result` to text
and an exit status. Only this module prints or exits.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

if TYPE_CHECKING:
    from builder.pipeline import Request, Result, Until
    from builder.problems import Problem

OK, FAILED, INVALID = 0, 1, 2
DIST = "dist"
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
    weaker_sandbox: bool = False  # run code even where a wall of the sandbox cannot be raised


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `deckbuild` with `argv` (default: the process's arguments); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    context = Context(
        root=Path(args.project).resolve(),
        jobs=max(1, args.jobs or os.cpu_count() or 1),
        out=sys.stdout,
        err=sys.stderr,
        weaker_sandbox=getattr(args, "accept_weaker_sandbox", False),
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

    # `deckbuild` alone shows the help: its subcommands' shared options need defaults here too.
    parser.set_defaults(command=show_help, project=".", jobs=0)
    parser.add_argument("--version", action=_ShowVersion)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project", default=".", metavar="DIR", help="the project folder (default: here)"
    )
    common.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="how many answers and figures run at once (default: all cores)",
    )
    common.add_argument(
        "--accept-weaker-sandbox",
        action="store_true",
        help="RISKY: run code answers and figure scripts even where this machine cannot raise "
        "every wall of the sandbox (no Landlock, namespaces or seccomp), so that they may read "
        "your files or reach the network",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    decks = argparse.ArgumentParser(add_help=False)
    decks.add_argument("recipes", nargs="*", metavar="RECIPE", help="recipe names (file stems)")
    decks.add_argument(
        "--tags",
        metavar="EXPR",
        help="one ad-hoc deck of the notes matching a tag expression, e.g. "
        "'topic::detection and not level::easy'",
    )
    decks.add_argument(
        "--name", default="CV Interview Prep", help="deck name for --tags (default: %(default)s)"
    )
    decks.add_argument(
        "--output",
        default="custom.apkg",
        help="file name in dist/ for --tags (default: %(default)s)",
    )
    decks.add_argument(
        "--allow-breaking-changes",
        action="store_true",
        help="build even when a released note is missing or changed kind, a note type's "
        "schema changed, or a stamp is not newer (see the README before using it)",
    )
    strict = argparse.ArgumentParser(add_help=False)
    strict.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (a note without sources, a long back without a reason) as errors",
    )

    build = commands.add_parser(
        "build",
        parents=[common, decks, strict],
        help="verify, draw, render and write dist/<recipe>.apkg",
        description="Build every recipe in decks/ (or the ones named) into dist/. Nothing is "
        "written unless every note loads and every code answer passes its tests.",
    )
    build.set_defaults(command=_build)

    check = commands.add_parser(
        "check",
        parents=[common, decks, strict],
        help="everything build does, but write nothing",
        description="Validate every note and recipe, run every code answer's tests, draw "
        "every figure, render, and compare with notes.lock as build does, reporting all "
        "problems together. Writes no deck and no lock file. Takes build's arguments.",
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
        parents=[common, strict],
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
    show.set_defaults(command=_preview, tags=None, name="", output="", allow_breaking_changes=False)
    return parser


# -- commands ----------------------------------------------------------------------------------


def _build(args: argparse.Namespace, context: Context) -> int:
    result = _run(args, context, "build")
    dist = context.root / DIST
    rows = [
        [f"{DIST}/{recipe.output}", deck.decks, deck.notes, deck.cards, deck.media]
        for recipe in result.recipes
        for deck in [result.written[dist / recipe.output]]
    ]
    _table(["deck file", "subdecks", "notes", "cards", "media"], rows, context.out)
    print(f"built {len(rows)} deck(s) in {result.seconds:.1f} s", file=context.out)
    return OK


def _check(args: argparse.Namespace, context: Context) -> int:
    result = _run(args, context, "check")
    rows = [[r.location.path.stem, len(result.selected[r.output])] for r in result.recipes]
    _table(["recipe", "notes"], rows, context.out)
    warned = f" ({_count(len(result.warnings), 'warning')})" if result.warnings else ""
    print(
        f"checked {len(result.notes)} notes in {result.seconds:.1f} s: all good{warned}",
        file=context.out,
    )
    return OK


def _preview(args: argparse.Namespace, context: Context) -> int:
    result = _run(args, context, "preview")
    written = result.preview
    assert written is not None  # the run succeeded
    print(
        f"wrote {len(written.cards)} cards of {len({c.note_id for c in written.cards})} notes "
        f"and {written.media} media files; open {written.index} in a browser",
        file=context.out,
    )
    if not written.mathjax:
        print(
            "formulas show as their TeX source: install django-static-mathjax to typeset them",
            file=context.out,
        )
    return OK


def _list(args: argparse.Namespace, context: Context) -> int:
    from builder.cache import Store
    from builder.load import load
    from builder.pipeline import CACHE
    from builder.problems import Location, Problem
    from builder.recipes import (
        Recipe,
        TagExpressionError,
        load_recipes,
        parse_tags,
        select,
        unmatched,
    )

    # Parsed files come from the build's cache; `list` neither evicts nor records anything.
    loaded = load(context.root, cache=Store(context.root / CACHE))
    _stop_on(loaded.problems, context)
    notes = loaded.notes
    if args.tags:
        at = Location(Path("--tags"), 0)
        try:
            recipe = Recipe("", "", at, include=parse_tags(args.tags), include_at=at)
        except TagExpressionError as error:
            _stop_on([Problem(at, str(error))], context)
        _stop_on(unmatched(recipe, notes), context)
        notes = select(recipe, notes)
    if args.notes:
        for note in notes:
            first_line = (note.front or note.cloze).strip().splitlines()[0]
            print(f"{note.id:40} {note.deck:24} {_shorten(first_line, 70)}", file=context.out)
        return OK
    found = load_recipes(context.root)
    _stop_on(found.problems, context)
    _table(
        ["recipe", "deck", "file", "notes"],
        [[r.location.path.stem, r.name, r.output, len(select(r, notes))] for r in found.recipes],
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


# -- the pipeline, run and reported ----------------------------------------------------------


def _run(args: argparse.Namespace, context: Context, until: Until) -> Result:
    """Runs the pipeline; prints what it found; stops unless all is well."""
    from builder.pipeline import Request, run

    progress = _Progress(context)

    def wait() -> None:
        print(
            f"deckbuild: waiting for another build of this project to finish with {DIST}/",
            file=context.err,
            flush=True,
        )

    request = Request(
        root=context.root,
        until=until,
        recipes=tuple(args.recipes),
        tags=args.tags,
        name=args.name,
        output=args.output,
        allow_breaking_changes=args.allow_breaking_changes,
        strict=args.strict,
        jobs=context.jobs,
        weaker_sandbox=context.weaker_sandbox,
        preview_dir=getattr(args, "out", PREVIEW),
        on_progress=progress,
        on_wait=wait,
        checkpoint=lambda point: _pause(point, context),
    )
    result = run(request)
    progress.finish()
    _report(request, result, context)
    if result.status != OK:
        raise Stop(result.status)
    return result


def _report(request: Request, result: Result, context: Context) -> None:
    """Every problem, failure and warning of the run, then one line per kind of trouble."""
    from builder.pipeline import INVALID

    err = context.err
    breaking = set(result.breaking)
    for problem in sorted(result.problems, key=lambda p: (p.location, p.message)):
        print(problem, file=err)
    for failure in result.failures:
        print(failure.report, file=err)
        print(file=err)
    for problem in result.failed_figures:
        print(problem, file=err)
    if not request.strict:
        for warning in sorted(result.warnings, key=lambda p: (p.location, p.message)):
            print(f"warning: {warning}", file=err)
    if request.allow_breaking_changes:
        for problem in sorted(breaking, key=lambda p: (p.location, p.message)):
            print(problem, file=err)
    checked = result.verification
    if checked is not None and (checked.evidence or checked.failures):
        print(
            f"verified {_count(len(checked.evidence), 'code answer')}, "
            f"{_count(checked.cases, 'case')} ({checked.ran} run, {checked.cached} from cache)",
            file=context.out,
        )
    if checked is not None and checked.weaker:
        walls = "; ".join(checked.weaker)
        print(f"deckbuild: answers ran without these walls of the sandbox: {walls}", file=err)
    nothing = "nothing was written"
    if result.failures:
        failed = _count(result.failed_answers, "code answer")
        print(f"deckbuild: {failed} failed verification; {nothing}", file=err)
    if result.failed_figures:
        count = len(result.failed_figures)
        print(f"deckbuild: {count} figure script(s) failed; {nothing}", file=err)
    soft = set(result.warnings)
    input_problems = [p for p in result.problems if p not in breaking and p not in soft]
    if input_problems:
        print(f"deckbuild: {len(input_problems)} problem(s) in the input; {nothing}", file=err)
    if breaking and result.status == INVALID and not request.allow_breaking_changes:
        print(
            f"deckbuild: {len(breaking)} change(s) would break notes that users already have; "
            f"{nothing}. Fix them, or build with --allow-breaking-changes if you mean them (see "
            "the README, 'Releasing an update')",
            file=err,
        )
    elif breaking and request.until == "build" and result.status == OK:
        print(
            "deckbuild: building anyway, as --allow-breaking-changes asks; notes.lock will "
            "record the new state",
            file=err,
        )
    if request.strict and result.warnings:
        warned = _count(len(result.warnings), "warning")
        print(f"deckbuild: {warned}, errors under --strict; {nothing}", file=err)


def _stop_on(problems: Sequence[Problem], context: Context) -> None:
    if not problems:
        return
    for problem in sorted(problems, key=lambda p: p.location):
        print(problem, file=context.err)
    count = len(problems)
    print(f"deckbuild: {count} problem(s) in the input; nothing was written", file=context.err)
    raise Stop(INVALID)


class _ShowVersion(argparse.Action):
    """`--version`, which looks the version up only when asked: importing importlib.metadata
    alone took every command 15 ms (#19)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        shown = "show program's version number and exit"  # argparse's own words
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=shown)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import PackageNotFoundError

        from builder.versions import installed_version

        try:
            found = installed_version("deckbuild", "builder")
        except PackageNotFoundError:
            found = "(not installed)"
        print(f"{parser.prog} {found}")
        parser.exit()


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


# -- small pieces ------------------------------------------------------------------------------


def _pause(point: str, context: Context) -> None:
    # The test-only hook of the module docstring.
    if os.environ.get(PAUSE_AT) == point:
        print(f"deckbuild: paused at {point}", file=context.err, flush=True)
        sys.stdin.readline()


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
    """Shows a stage on stderr once it has taken more than a second, with its count."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.started: dict[str, float] = {}
        self.shown: str | None = None
        self.live = context.err.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        started = self.started.setdefault(stage, time.monotonic())
        if time.monotonic() - started < 1:
            return
        if self.live:
            print(f"\r{stage}: {done}/{total}", end="", file=self.context.err, flush=True)
        elif done == total or self.shown != stage:
            print(f"{stage}: {done}/{total}", file=self.context.err)
        self.shown = stage

    def finish(self) -> None:
        if self.live and self.shown:
            print(file=self.context.err)
