"""The source format, declared: every key of a source file, a note, its tests, a test case and
a property, each once, with its type, its default and what it means.

The loader takes its lists of known keys and its defaults from here, and the tables in
docs/source-format.md are these declarations written out (`python -m builder.schema` prints
them; tests/test_schema.py holds the docs equal to them).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

# Defaults and bounds of the numbers a note's tests may set.
RTOL = 1e-6
ATOL = 1e-9
TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 120.0
TRIALS = 25
MAX_TRIALS = 1000
# A back longer than this needs a `long` reason: cards are for recall, not for reading.
MAX_BACK_WORDS = 60


@dataclass(frozen=True)
class Key:
    """One key: its name, the type of its value, what it means, and its default if it has one."""

    name: str
    type: str
    meaning: str
    required: bool = False
    default: str | None = None  # as a user would write it


FILE = (
    Key("deck", "text", "the subdeck the file's notes go into, under the recipe's deck.", True),
    Key("tags", "list of tags", "tags added to every note of the file."),
    Key("notes", "list of notes", "the notes, at least one.", True),
)

NOTE = (
    Key(
        "id",
        "text",
        (
            "Stable kebab-case (`[a-z0-9]+(-[a-z0-9]+)*`), unique across all files. It is"
            " the note's identity in Anki: **never change it** once released, or users "
            "get a duplicate note."
        ),
        required=True,
    ),
    Key(
        "front",
        "Markdown",
        "the question (Markdown). A note has either `front` or `cloze`.",
    ),
    Key(
        "back",
        "Markdown",
        (
            "the answer (Markdown). Required with `front` unless the note has `code`. "
            "With `cloze`, optional extra text shown on the back."
        ),
    ),
    Key(
        "cloze",
        "Markdown",
        "cloze text with Anki deletions: `{{c1::IoU}}`, `{{c2::0.5::threshold}}`.",
    ),
    Key(
        "refs",
        "list of texts",
        "seed question ids this note answers (see `../shared/seeds/questions.yaml`).",
    ),
    Key(
        "sources",
        "list of texts",
        (
            "what the note was checked against, one line each: a paper (`He et al. 2016, "
            "Deep Residual Learning (arXiv:1512.03385), §3.3`), a textbook chapter and "
            "section, or a library's documentation at a version. Shown in one small line "
            'at the end of the back ("Source: ..."), never on the front. Every note of '
            "this deck has one."
        ),
    ),
    Key(
        "tags",
        "list of tags",
        "extra tags; hierarchical with `::`, no spaces (`kind::compare`).",
    ),
    Key(
        "level",
        "easy, medium or hard",
        "`easy`, `medium` or `hard`; becomes the tag `level::<level>`.",
    ),
    Key(
        "figure",
        "text",
        "the name of a diagram script `figures/<name>.py`; shown on the back.",
    ),
    Key(
        "code",
        "Python",
        ("the answer code (Python with numpy), shown highlighted on the back; requires `tests`."),
    ),
    Key(
        "tests",
        "mapping",
        "numpy test cases the `code` must pass before the deck is built (see below).",
    ),
    Key(
        "long",
        "text",
        f"why this back may run past {MAX_BACK_WORDS} words (`derivation`, `code`, ...).",
    ),
    Key(
        "retired",
        "text",
        (
            "why the note left the deck; the build then ships a notice in its place (see "
            "[Retiring a note](#retiring-a-note))."
        ),
    ),
)

TESTS = (
    Key("call", "text", "the name of the function the cases call (a case may give an `expr`)."),
    Key("cases", "list of cases", "the named cases the answer must pass, at least one.", True),
    Key("properties", "list of properties", "checks against a plain reference on random inputs."),
    Key("setup", "Python", "helpers for `expr` cases and properties; never on the card."),
    Key("rtol", "number", "relative tolerance of every case.", default=str(RTOL)),
    Key("atol", "number", "absolute tolerance of every case.", default=str(ATOL)),
    Key(
        "timeout",
        "number",
        f"wall-clock seconds for the whole note, at most {MAX_TIMEOUT_S:g}.",
        default=f"{TIMEOUT_S:g}",
    ),
)

CASE = (
    Key("name", "text", "what the case checks, as its report names it.", True),
    Key("args", "list", "positional arguments passed to `call`."),
    Key("kwargs", "mapping", "keyword arguments passed to `call`."),
    Key("expr", "Python", "an expression to evaluate instead of calling `call`."),
    Key("expect", "value", "what the call must return (this or `raises`)."),
    Key("raises", "text", "the name of the exception the call must raise (this or `expect`)."),
    Key("rtol", "number", "relative tolerance of this case.", default="the tests' `rtol`"),
    Key("atol", "number", "absolute tolerance of this case.", default="the tests' `atol`"),
)

PROPERTY = (
    Key("name", "text", "what the property checks, as its report names it.", True),
    Key("inputs", "Python", "defines `inputs(rng)`: the arguments of one trial.", True),
    Key("reference", "Python", "defines `reference(...)`: a plain version to agree with.", True),
    Key(
        "trials",
        "whole number",
        f"how many random inputs to try, from 1 to {MAX_TRIALS}.",
        default=str(TRIALS),
    ),
    Key("rtol", "number", "relative tolerance of the comparison.", default="the tests' `rtol`"),
    Key("atol", "number", "absolute tolerance of the comparison.", default="the tests' `atol`"),
)

TABLES = {"File": FILE, "Note": NOTE, "Tests": TESTS, "Case": CASE, "Property": PROPERTY}


def names(keys: Sequence[Key]) -> tuple[str, ...]:
    return tuple(key.name for key in keys)


def table(keys: Sequence[Key]) -> str:
    """The keys as the Markdown table in docs/source-format.md."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key in keys:
        default = "required" if key.required else (key.default or "")
        rows.append(f"| `{key.name}` | {key.type} | {default} | {key.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    for title, keys in TABLES.items():
        sys.stdout.write(f"{title} keys:\n\n{table(keys)}\n\n")
