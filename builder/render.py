"""Rendering: notes to the HTML of their fields, with code highlighted and math for MathJax.

Math is cut out before Markdown sees it (Markdown would eat `_` and `*` inside formulas) and put
back as `\\(...\\)` / `\\[...\\]`, the only delimiters Anki's MathJax reads.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import markdown
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from builder.figures import Figure, Media
from builder.notes import Note, NoteKind
from builder.problems import Problem

if TYPE_CHECKING:
    from builder.verify import Evidence

CODE_CLASS = "highlight"

# Code first, so a `$` inside code is never taken for math; then display math before inline.
_PROTECTED = re.compile(
    r"(?P<fence>^[ \t]*(?P<mark>`{3,}|~{3,}).*?^[ \t]*(?P=mark)[ \t]*$)"
    r"|(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|(?P<display>\$\$(?P<display_tex>.+?)\$\$)"
    r"|(?P<inline>(?<![\\$\w])\$(?P<inline_tex>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?![\w$]))",
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
) -> Rendering:
    """Renders every note's fields to HTML.

    `evidence` holds the verification line of each code note, `figures` the drawn diagram of
    each figure a note names. Images in Markdown name files in `media_dir`; a missing file is a
    problem at the note's location.
    """
    rendered = []
    problems: list[Problem] = []
    for note in notes:
        result, missing = _render_note(note, evidence, figures, media_dir)
        rendered.append(result)
        problems.extend(
            Problem(note.location, f"image '{name}' is not in {media_dir}", note.id)
            for name in missing
        )
    return Rendering(tuple(rendered), tuple(problems))


def _render_note(
    note: Note,
    evidence: Mapping[str, Evidence],
    figures: Mapping[str, Figure],
    media_dir: Path | None,
) -> tuple[RenderedNote, list[str]]:
    front = markdown_to_html(note.cloze if note.kind == "cloze" else note.front)
    back = markdown_to_html(note.back) if note.back else ""
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
        code=code_to_html(note.code) if note.code else "",
        figure=figure_html,
        verified=html.escape(proof.line) if proof else "",
        tags=note.tags,
        media=tuple(dict.fromkeys(media)),
    )
    return result, missing


def markdown_to_html(text: str) -> str:
    """Markdown to HTML: fenced code highlighted with CSS classes, math kept for MathJax."""
    formulas: list[str] = []

    def protect(match: re.Match[str]) -> str:
        if match.group("fence") or match.group("code"):
            return match.group(0)
        if match.group("display") is not None:
            formulas.append(r"\[" + html.escape(match.group("display_tex"), quote=False) + r"\]")
        else:
            formulas.append(r"\(" + html.escape(match.group("inline_tex"), quote=False) + r"\)")
        return f"MATHPLACEHOLDER{len(formulas) - 1}X"

    protected = _PROTECTED.sub(protect, text)
    converted = _converter().reset().convert(protected)
    return re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: formulas[int(m.group(1))], converted)


def code_to_html(code: str) -> str:
    """Python highlighted by Pygments with CSS classes; its text is exactly `code`."""
    formatter = HtmlFormatter(cssclass=CODE_CLASS, nowrap=False)
    return str(highlight(code, PythonLexer(stripnl=False, ensurenl=False), formatter))


def figure_to_html(name: str, light: str, dark: str) -> str:
    """Both variants of a figure; the card CSS shows the one matching day or night mode."""
    alt = html.escape(f"diagram: {name.replace('-', ' ')}")
    return (
        f'<img class="figure figure-light" src="{light}" alt="{alt}">'
        f'<img class="figure figure-dark" src="{dark}" alt="{alt}">'
    )


@cache
def _converter() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "sane_lists"],
        extension_configs={
            "codehilite": {"css_class": CODE_CLASS, "guess_lang": False, "use_pygments": True}
        },
        output_format="html",
    )
