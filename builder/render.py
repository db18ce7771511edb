"""Rendering: notes to the HTML of their fields, with code highlighted and math for MathJax.

Math is set aside before Markdown reads the text (Markdown would eat `_` and `*` inside
formulas) and put back as `\\(...\\)` / `\\[...\\]`, the only delimiters Anki's MathJax reads.
"""

from __future__ import annotations

import hashlib
import html
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from builder.cache import Store, digest
from builder.figures import Figure
from builder.notes import Media, Note, NoteKind
from builder.problems import Problem
from builder.versions import installed_version

if TYPE_CHECKING:
    import markdown

    from builder.verify import Evidence

# Markdown and Pygments are imported where they are used: a build whose every text is in the
# render cache does not need them, and the command line starts faster without them. Importing
# Markdown is then most of what one edited note adds to a rebuild (12 ms of about 19, issue
# #10). Rendering in a forked process while the cached verification and drawing ran was tried:
# they take only 8 ms, so it hid a third of that (1.08x a rebuild with nothing changed became
# 1.05x), and forking is unsafe in a process with other threads (a test's, OpenBLAS's).

CODE_CLASS = "highlight"

# Code first, so a `$` inside code is never taken for math; then display math before inline.
# An inline formula may run over a line break, as sources wrap their lines, but never over a
# blank line: a new paragraph ends it (two notes showed such formulas as raw TeX).
_PROTECTED = re.compile(
    r"(?P<fence>^[ \t]*(?P<mark>`{3,}|~{3,}).*?^[ \t]*(?P=mark)[ \t]*$)"
    r"|(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|(?P<display>\$\$(?P<display_tex>.+?)\$\$)"
    r"|(?P<inline>(?<![\\$\w])\$"
    r"(?P<inline_tex>[^\s$](?:(?:[^$\n]|\n(?![ \t]*\n))*?[^\s$\\])?)\$(?![\w$]))",
    re.MULTILINE | re.DOTALL,
)
_IMAGE = re.compile(r"<img [^>]*?src=\"([^\"]+)\"")


@dataclass(frozen=True)
class RenderedNote:
    """A note as Anki will store it: HTML per field, its tags, and the media it shows.

    For a cloze note `front` holds the cloze text and `back` the extra text.
    """

    id: str
    deck: str
    kind: NoteKind
    position: int
    front: str
    back: str
    code: str
    figure: str
    verified: str
    sources: str
    tags: tuple[str, ...]
    media: tuple[Media, ...]


@dataclass(frozen=True)
class Rendering:
    notes: tuple[RenderedNote, ...]
    problems: tuple[Problem, ...]


def render(
    notes: Sequence[Note],
    *,
    evidence: Mapping[str, Evidence],
    figures: Mapping[str, Figure],
    media_dir: Path | None = None,
    cache: Store | None = None,
) -> Rendering:
    """Renders every note's fields to HTML.

    `evidence` holds the verification line of each code note, `figures` the drawn diagram of
    each figure a note names. Images in Markdown name files in `media_dir`; a missing file is a
    problem at the note's location.

    With `cache`, a text rendered by an earlier call is not rendered again: its HTML is kept
    under the identity of the renderer (this module, Markdown, Pygments, Python), so the result
    is the same as without the cache.
    """
    remembered = _recall(cache) if cache is not None else {}
    used: dict[str, str] = {}

    def to_html(convert: Callable[[str], str], text: str) -> str:
        key = _key(convert, text)
        found = used.get(key, remembered.get(key))
        used[key] = convert(text) if found is None else found
        return used[key]

    rendered = []
    problems: list[Problem] = []
    for note in notes:
        result, missing = _render_note(note, evidence, figures, media_dir, to_html)
        rendered.append(result)
        problems.extend(
            Problem(note.location, f"image '{name}' is not in {media_dir}", note.id)
            for name in missing
        )
    # Only what this call used is kept, so edited texts do not pile up; unchanged, not rewritten.
    if cache is not None and used.keys() != remembered.keys():
        cache.put(STAGE, _renderer_identity(), used)
    return Rendering(tuple(rendered), tuple(problems))


def _render_note(
    note: Note,
    evidence: Mapping[str, Evidence],
    figures: Mapping[str, Figure],
    media_dir: Path | None,
    to_html: Callable[[Callable[[str], str], str], str],
) -> tuple[RenderedNote, list[str]]:
    front = to_html(markdown_to_html, note.cloze if note.kind == "cloze" else note.front)
    back = to_html(markdown_to_html, note.back) if note.back else ""
    media: list[Media] = []
    missing: list[str] = []
    for name in _IMAGE.findall(front + back):
        path = (media_dir / name) if media_dir else None
        if path is not None and path.is_file() and "/" not in name:
            media.append(Media(name, path))
        else:
            missing.append(name)
    figure_html = ""
    if note.figure and note.figure in figures:
        drawn = figures[note.figure]
        media += [drawn.light, drawn.dark]
        figure_html = figure_to_html(note.figure, drawn.light.name, drawn.dark.name)
    proof = evidence.get(note.id)
    result = RenderedNote(
        id=note.id,
        deck=note.deck,
        kind=note.kind,
        position=note.position,
        front=front,
        back=back,
        code=to_html(code_to_html, note.code) if note.code else "",
        figure=figure_html,
        verified=html.escape(proof.line) if proof else "",
        sources=sources_to_html(note.sources),
        tags=note.tags,
        media=tuple(dict.fromkeys(media)),
    )
    return result, missing


def markdown_to_html(text: str) -> str:
    """Markdown to HTML: fenced code highlighted with CSS classes, math kept for MathJax."""
    return wrappable(str(_converter().reset().convert(text)))


def code_to_html(code: str) -> str:
    """Python highlighted by Pygments with CSS classes; its text is exactly `code`."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    formatter = HtmlFormatter(cssclass=CODE_CLASS, nowrap=False, linespans=_LINE_ID)
    return wrappable(str(highlight(code, PythonLexer(stripnl=False, ensurenl=False), formatter)))


# Code on a phone: a 360 px screen holds about 36 characters of code, and half the lines on the
# cards are longer (issue #20). Each line becomes a block of its own whose wrapped part hangs
# HANGING_INDENT characters past the line's own indentation, so Python's structure stays
# readable. The line's leading spaces stay in the text (a negative text-indent pulls the first
# row back), so copying the block gives exactly the code. Whether lines wrap is the card CSS's
# choice (only on narrow screens).
HANGING_INDENT = 4
_LINE_ID = "L"
# A line's opening span, then the tags and spaces before its first character.
_LINE = re.compile(rf'<span id="{_LINE_ID}-\d+">((?:<[^>]*>| )*)')
_TAGS = re.compile(r"<[^>]*>")


def wrappable(highlighted: str) -> str:
    """Pygments' per-line spans as `line` blocks that wrap with a hanging indent."""

    def line(match: re.Match[str]) -> str:
        hang = len(_TAGS.sub("", match.group(1))) + HANGING_INDENT
        style = f"padding-left:{hang}ch;text-indent:-{hang}ch"
        return f'<span class="line" style="{style}">{match.group(1)}'

    return _LINE.sub(line, highlighted)


def sources_to_html(sources: Sequence[str]) -> str:
    """The one muted line on the back of a card that names what the note was checked against."""
    if not sources:
        return ""
    label = "Source" if len(sources) == 1 else "Sources"
    listed = " · ".join(html.escape(source) for source in sources)
    return f'<div class="source">{label}: {listed}</div>'


def figure_to_html(name: str, light: str, dark: str) -> str:
    """Both variants of a figure; the card CSS shows the one matching day or night mode."""
    alt = html.escape(f"diagram: {name.replace('-', ' ')}")
    return (
        f'<img class="figure figure-light" src="{light}" alt="{alt}">'
        f'<img class="figure figure-dark" src="{dark}" alt="{alt}">'
    )


@cache
def _converter() -> markdown.Markdown:
    import markdown
    from markdown import util
    from markdown.extensions import Extension
    from markdown.extensions.codehilite import CodeHiliteExtension
    from markdown.extensions.fenced_code import FencedCodeExtension
    from markdown.extensions.sane_lists import SaneListExtension
    from markdown.extensions.tables import TableExtension
    from markdown.inlinepatterns import (
        IMAGE_LINK_RE,
        LINK_RE,
        ImageInlineProcessor,
        LinkInlineProcessor,
    )
    from markdown.preprocessors import Preprocessor

    Link = tuple[str, str | None, int, bool]  # href, title, end, whether it is a link

    class Math(Preprocessor):
        """Hands each formula to Markdown's own stash of finished HTML, which puts it back
        after every other step. Its placeholders hold characters Markdown strips from the
        input first, so no text of a note can pass for one (issue #18)."""

        def run(self, lines: list[str]) -> list[str]:
            def protect(match: re.Match[str]) -> str:
                if match.group("fence") or match.group("code"):
                    return match.group(0)
                if match.group("display") is not None:
                    tex = r"\[" + html.escape(match.group("display_tex"), quote=False) + r"\]"
                else:
                    tex = r"\(" + html.escape(match.group("inline_tex"), quote=False) + r"\)"
                return str(self.md.htmlStash.store(tex))

            return _PROTECTED.sub(protect, "\n".join(lines)).split("\n")

    class MathExtension(Extension):
        def extendMarkdown(self, md: markdown.Markdown) -> None:
            # After fenced code (25) has stashed whole code blocks, before raw HTML (20).
            md.preprocessors.register(Math(md), "math", 24)

    # What a code span or a formula stands as in the text while Markdown parses the rest.
    stashed = (util.INLINE_PLACEHOLDER_PREFIX, util.HTML_PLACEHOLDER.split("%")[0])

    def code_first(self: LinkInlineProcessor, data: str, index: int) -> Link:
        """A link's destination, unless it would swallow a code span or a formula: then the
        brackets stay text. Python-Markdown put the code's text into the `href` and dropped the
        code from the card (`[see]( `x` )`); CommonMark gives code spans precedence."""
        href, title, end, handled = LinkInlineProcessor.getLink(self, data, index)
        if handled and any(mark in data[index:end] for mark in stashed):
            return href, title, end, False
        return href, title, end, handled

    class CodeFirstLink(LinkInlineProcessor):
        getLink = code_first

    class CodeFirstImage(ImageInlineProcessor):
        getLink = code_first

    class CodeFirstExtension(Extension):
        def extendMarkdown(self, md: markdown.Markdown) -> None:
            # In place of Markdown's own link and image patterns, at their priorities.
            md.inlinePatterns.register(CodeFirstLink(LINK_RE, md), "link", 160)
            md.inlinePatterns.register(CodeFirstImage(IMAGE_LINK_RE, md), "image_link", 150)

    # Extensions as objects, not names: Markdown looks names up among every installed
    # package's entry points, which took longer than the rest of a one-note rebuild.
    codehilite = CodeHiliteExtension(
        css_class=CODE_CLASS, guess_lang=False, use_pygments=True, linespans=_LINE_ID
    )
    extensions = [
        FencedCodeExtension(),
        codehilite,
        TableExtension(),
        SaneListExtension(),
        MathExtension(),
        CodeFirstExtension(),
    ]
    return markdown.Markdown(extensions=extensions, output_format="html")


# --- the cache -------------------------------------------------------------------------------
# Rendering is most of a rebuild when little changed (Python-Markdown takes about 0.3 ms a
# text), so the HTML of each text is remembered in one entry per renderer identity, read once
# per build.

STAGE = "render"


def _key(convert: Callable[[str], str], text: str) -> str:
    return hashlib.sha256(f"{convert.__name__}\0{text}".encode()).hexdigest()[:32]


@cache
def _renderer_identity() -> str:
    """Everything besides a text that its HTML depends on."""
    parts = [Path(__file__).read_bytes().decode("utf-8"), sys.version]
    parts += [f"{name} {installed_version(name, name)}" for name in ("markdown", "pygments")]
    return digest(*parts)


def _recall(store: Store) -> dict[str, str]:
    data = store.get(STAGE, _renderer_identity())
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return {}
    return data
