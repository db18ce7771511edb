"""Loading: `source/*.yaml` files to validated notes, with every problem of every file.

Line numbers come from PyYAML's node marks, so the loader walks composed nodes rather than
loaded dictionaries (which forget where they came from).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from builder import schema
from builder.cache import Store, digest, from_json, to_json
from builder.notes import Case, Note, Property, Tests
from builder.problems import Location, Problem

FILE_KEYS = schema.names(schema.FILE)
NOTE_KEYS = schema.names(schema.NOTE)
TESTS_KEYS = schema.names(schema.TESTS)
CASE_KEYS = schema.names(schema.CASE)
PROPERTY_KEYS = schema.names(schema.PROPERTY)
LEVELS = ("easy", "medium", "hard")

ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
TAG_RE = re.compile(r"[A-Za-z0-9_.-]+(?:::[A-Za-z0-9_.-]+)*")
REF_RE = re.compile(r"[a-z0-9]+-q\d+")
SOURCE_RE = re.compile(r"\S.*\S|\S")  # one line of text, not blank
FIGURE_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
CLOZE_RE = re.compile(r"\{\{c(\d+)::")
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A fence opener: three or more backticks or tildes, then an optional info string.
FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)", re.MULTILINE)
UNVERIFIABLE_FENCES = ("", "python", "py", "python3", "numpy", "ipython", "pycon")

# What a retired note becomes: a notice, under its old id, kind, subdeck and tags, so that the
# users who have it are told to delete it (Anki never deletes a note on import).
RETIRED_TAG = "deck::retired"
# First-time importers find every notice in one subdeck and delete it in one step; users who
# have the note keep its cards where they are, as Anki never moves a card on import.
RETIRED_DECK = "Retired"
RETIRED_FRONT = "**Retired:** this note is no longer part of the deck. Please delete it."
RETIRED_CLOZE = "**Retired:** this note is no longer part of the deck: {deletions}."
RETIRED_HOW = (
    f"To delete every retired note at once, search for `tag:{RETIRED_TAG}` in Anki's browser, "
    "select all, and delete the notes."
)


@dataclass(frozen=True)
class Loaded:
    """The notes of a project, in file order, every problem found on the way, and warnings:
    what a note should have but may go without while it is being written (errors under
    `--strict`, as the deck's own content tests run)."""

    notes: tuple[Note, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()


def load(root: Path, source_dir: str = "source", *, cache: Store | None = None) -> Loaded:
    """Reads every `*.yaml` file under `root/source_dir` (sorted by path).

    A note with a problem is left out of `notes`; its problems are in `problems`, each naming
    the file and line (relative to `root`) and, where known, the note id.

    With `cache`, a file whose bytes were read before (by this same loader) is not parsed
    again: its notes and problems come back from the cache, as reading it would give.
    """
    folder = root / source_dir
    problems: list[Problem] = []
    notes: list[Note] = []
    if not folder.is_dir():
        here = Location(Path(source_dir), 0)
        return Loaded((), (Problem(here, f"no folder '{source_dir}' with note files"),))
    files = sorted(p for p in folder.rglob("*.yaml") if p.is_file())
    for path in files:
        found, found_problems = _read(path, path.relative_to(root), cache)
        notes.extend(found)
        problems.extend(found_problems)
    problems.extend(_duplicate_ids(notes))
    ordered = tuple(replace(note, position=i) for i, note in enumerate(notes))
    return Loaded(ordered, tuple(problems), tuple(w for note in ordered for w in _warnings(note)))


def words(markdown: str) -> int:
    """The words of a back as a reader counts them: a formula inline is one, displayed none."""
    without_display_math = re.sub(r"\$\$.+?\$\$", " ", markdown, flags=re.DOTALL)
    inline_math_as_one_word = re.sub(r"\$[^$]+\$", "x", without_display_math)
    return len(inline_math_as_one_word.split())


def _warnings(note: Note) -> list[Problem]:
    if RETIRED_TAG in note.tags:
        return []
    found = []
    if not note.sources:
        message = "no 'sources': name what the note was checked against (author, year, section)"
        found.append(Problem(note.location, message, note.id))
    count = words(note.back)
    if count > schema.MAX_BACK_WORDS and not note.long:
        message = (
            f"the back has {count} words, over {schema.MAX_BACK_WORDS}: shorten it, or say why "
            "it is long with 'long: <reason>'"
        )
        found.append(Problem(note.location, message, note.id))
    return found


def _duplicate_ids(notes: Sequence[Note]) -> list[Problem]:
    first: dict[str, Location] = {}
    problems = []
    for note in notes:
        if note.id in first:
            message = (
                f"duplicate id '{note.id}', also used at {first[note.id]}: "
                "ids must be unique across all files"
            )
            problems.append(Problem(note.location, message, note.id))
        first.setdefault(note.id, note.location)
    return problems


class _Reader:
    """Walks one file's nodes, collecting problems. Private: `load` is the public verb."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.note_id: str | None = None

    # -- reporting -------------------------------------------------------------------------

    def at(self, node: yaml.Node | None) -> Location:
        return Location(self.path, node.start_mark.line + 1 if node is not None else 1)

    def problem(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(Problem(self.at(node), message, self.note_id))

    # -- the file --------------------------------------------------------------------------

    def read_file(self, path: Path) -> list[Note]:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            self.problems.append(
                Problem(Location(self.path, 1), f"not UTF-8 text ({error.reason})")
            )
            return []
        except OSError as error:
            self.problems.append(Problem(Location(self.path, 1), f"cannot read: {error.strerror}"))
            return []
        deep = _too_deep(text)
        if deep is not None:
            message = f"values nest more than {MAX_DEPTH} levels deep, far more than any note needs"
            self.problems.append(Problem(Location(self.path, deep), message))
            return []
        try:
            document = _compose(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else 1
            what = error.problem or error.context or "invalid YAML"
            self.problems.append(Problem(Location(self.path, line), f"YAML syntax error: {what}"))
            return []
        except yaml.YAMLError as error:  # reader errors (control characters) carry no mark
            self.problems.append(Problem(Location(self.path, 1), f"YAML error: {error}"))
            return []
        if document is None:
            self.problem(None, "empty file: expected keys 'deck' and 'notes'")
            return []
        oversized = _oversized(document)
        if oversized is not None:
            self.problem(
                oversized,
                f"values add up to more than {MAX_VALUES:,} here, counting each value again "
                "wherever an alias (*name) repeats it, or an alias contains itself: write the "
                'values out, or build large ones with {py: "..."}',
            )
            return []
        fields = self.mapping(document, FILE_KEYS, "file")
        if fields is None:
            return []
        deck = self.text(fields, "deck", document, required=True)
        default_tags = self.tags(fields.get("tags"))
        notes_node = fields.get("notes")
        if notes_node is None:
            self.problem(document, "missing key 'notes': a list of notes")
            return []
        if not isinstance(notes_node, yaml.SequenceNode) or not notes_node.value:
            self.problem(notes_node, "'notes' must be a non-empty list of notes")
            return []
        notes = [self.read_note(node, deck or "", default_tags) for node in notes_node.value]
        return [note for note in notes if note is not None] if deck else []

    # -- one note --------------------------------------------------------------------------

    def read_note(self, node: yaml.Node, deck: str, default_tags: list[str]) -> Note | None:
        # Known before anything else, so that every problem of the note can name it.
        self.note_id = _id_of(node) or "(no id)"
        before = len(self.problems)
        fields = self.mapping(node, NOTE_KEYS, "note")
        if fields is None:
            return None
        if "retired" in fields:
            return self.read_retired(node, fields, default_tags)
        note_id = self.read_id(fields, node)
        front = self.text(fields, "front", node)
        cloze = self.text(fields, "cloze", node)
        back = self.text(fields, "back", node)
        code = self.text(fields, "code", node)
        if front is None and cloze is None and "front" not in fields and "cloze" not in fields:
            self.problem(node, "missing key 'front' (or 'cloze' for a cloze note)")
        if "front" in fields and "cloze" in fields:
            self.problem(fields["cloze"], "a note has either 'front' or 'cloze', not both")
        if cloze is not None and not CLOZE_RE.search(cloze):
            self.problem(fields["cloze"], "cloze text has no deletion like {{c1::answer}}")
        if "front" in fields and "back" not in fields and "code" not in fields:
            self.problem(node, "missing key 'back' (the answer)")
        for key, value in (("front", front), ("back", back), ("cloze", cloze)):
            if value is not None:
                self.check_fences(fields[key], value, key)
        tests = self.read_tests(fields["tests"]) if "tests" in fields else None
        if "code" in fields and "tests" not in fields:
            self.problem(fields["code"], "'code' needs 'tests': only verified code may ship")
        if "tests" in fields and "code" not in fields:
            self.problem(fields["tests"], "'tests' without 'code': there is nothing to verify")
        if "code" in fields and cloze is not None:
            self.problem(fields["code"], "'code' belongs on a front/back note, not a cloze note")
        tags = self.note_tags(fields, default_tags, has_code=code is not None)
        figure = self.text(fields, "figure", node)
        if figure is not None and not FIGURE_RE.fullmatch(figure):
            self.problem(fields["figure"], f"figure name '{figure}' is not kebab-case")
        refs = self.strings(fields.get("refs"), "refs", REF_RE, "a seed question id like dl73-q05")
        sources = self.strings(
            fields.get("sources"), "sources", SOURCE_RE, "a source (author, year, title, section)"
        )
        long_reason = self.text(fields, "long", node)
        if len(self.problems) > before or note_id is None:
            return None
        return Note(
            id=note_id,
            location=self.at(node),
            deck=deck,
            kind="cloze" if cloze is not None else "basic",
            front=front or "",
            back=back or "",
            cloze=cloze or "",
            code=code,
            tests=tests,
            figure=figure,
            refs=tuple(refs),
            sources=tuple(sources),
            tags=tuple(dict.fromkeys(tags)),
            long=long_reason,
        )

    def read_retired(
        self, node: yaml.Node, fields: dict[str, yaml.Node], default_tags: list[str]
    ) -> Note | None:
        """A retired note, as the notice that replaces it, in the subdeck of notices: only its
        id, kind and tags count."""
        before = len(self.problems)
        note_id = self.read_id(fields, node)
        reason = self.text(fields, "retired", node)
        if reason is not None:
            self.check_fences(fields["retired"], reason, "retired")
        if "front" not in fields and "cloze" not in fields:
            self.problem(
                node,
                "a retired note keeps its 'front' (or its 'cloze'), whatever the text: Anki only "
                "updates a note of the same kind",
            )
        if "front" in fields and "cloze" in fields:
            self.problem(fields["cloze"], "a note has either 'front' or 'cloze', not both")
        tags = self.note_tags(fields, default_tags, has_code="code" in fields)
        if len(self.problems) > before or note_id is None or reason is None:
            return None
        cloze = "" if "cloze" not in fields else _retired_cloze(self.scalar(fields["cloze"]))
        return Note(
            id=note_id,
            location=self.at(node),
            deck=RETIRED_DECK,
            kind="cloze" if cloze else "basic",
            front="" if cloze else RETIRED_FRONT,
            cloze=cloze,
            back=f"Why: {reason}\n\n{RETIRED_HOW}",
            tags=tuple(dict.fromkeys([*tags, RETIRED_TAG])),
        )

    def read_id(self, fields: dict[str, yaml.Node], node: yaml.Node) -> str | None:
        note_id = self.text(fields, "id", node, required=True)
        if note_id is not None and not ID_RE.fullmatch(note_id):
            self.problem(
                fields["id"],
                f"id '{note_id}' is not kebab-case (lowercase letters, digits and single hyphens)",
            )
        return note_id

    def note_tags(
        self, fields: dict[str, yaml.Node], default_tags: list[str], *, has_code: bool
    ) -> list[str]:
        """The file's tags, the note's own, its level, and `kind::code` for code notes."""
        tags = [*default_tags, *self.tags(fields.get("tags"))]
        level = self.choice(fields, "level", LEVELS)
        if level:
            tags.append(f"level::{level}")
        if has_code and not any(t.startswith("kind::") for t in tags):
            tags.append("kind::code")
        return tags

    def check_fences(self, node: yaml.Node, text: str, key: str) -> None:
        opening = True  # fences alternate: opener, closer, opener, ...
        for match in FENCE_RE.finditer(text):
            language = match.group(2).lower()
            if opening and language in UNVERIFIABLE_FENCES:
                shown = f"```{language}" if language else "an unlabelled ```"
                self.problem(
                    node,
                    f"{shown} block in '{key}' would put unverified code on a card: move answer "
                    "code to 'code' with 'tests', or fence illustrative code as ```text or "
                    "```pseudo",
                )
            opening = not opening

    # -- tests of a code note --------------------------------------------------------------

    def read_tests(self, node: yaml.Node) -> Tests | None:
        fields = self.mapping(node, TESTS_KEYS, "tests")
        if fields is None:
            return None
        before = len(self.problems)
        call = self.text(fields, "call", node)
        if call is not None and not IDENTIFIER_RE.fullmatch(call):
            self.problem(fields["call"], f"'call' must be a function name, not '{call}'")
        cases_node = fields.get("cases")
        cases: list[Case] = []
        if not isinstance(cases_node, yaml.SequenceNode) or not cases_node.value:
            self.problem(cases_node or node, "'tests' needs 'cases': a non-empty list of cases")
        else:
            cases = [c for c in (self.read_case(n, call) for n in cases_node.value) if c]
        properties_node = fields.get("properties")
        properties: list[Property] = []
        if properties_node is not None:
            if not isinstance(properties_node, yaml.SequenceNode):
                self.problem(properties_node, "'properties' must be a list")
            else:
                found = (self.read_property(n, call) for n in properties_node.value)
                properties = [p for p in found if p]
        setup = self.text(fields, "setup", node) or ""
        rtol = self.number(fields, "rtol")
        atol = self.number(fields, "atol")
        timeout = self.number(fields, "timeout")
        if timeout is not None and not 0 < timeout <= schema.MAX_TIMEOUT_S:
            limit = f"{schema.MAX_TIMEOUT_S:g}"
            self.problem(fields["timeout"], f"'timeout' must be between 0 and {limit} seconds")
        if len(self.problems) > before:
            return None
        return Tests(
            location=self.at(node),
            call=call,
            cases=tuple(cases),
            properties=tuple(properties),
            setup=setup,
            rtol=schema.RTOL if rtol is None else rtol,
            atol=schema.ATOL if atol is None else atol,
            timeout=schema.TIMEOUT_S if timeout is None else timeout,
        )

    def read_case(self, node: yaml.Node, call: str | None) -> Case | None:
        fields = self.mapping(node, CASE_KEYS, "case")
        if fields is None:
            return None
        before = len(self.problems)
        name = self.text(fields, "name", node, required=True)
        expr = self.text(fields, "expr", node)
        args: Any = []
        kwargs: Any = {}
        if "args" in fields:
            if not isinstance(fields["args"], yaml.SequenceNode):
                self.problem(fields["args"], "'args' must be a list of arguments")
            else:
                args = [self.value(n) for n in fields["args"].value]
        if "kwargs" in fields:
            kwargs_node = fields["kwargs"]
            if not isinstance(kwargs_node, yaml.MappingNode):
                self.problem(kwargs_node, "'kwargs' must be a mapping of argument names")
            else:
                kwargs = {self.scalar(k): self.value(v) for k, v in kwargs_node.value}
        if expr is not None and ("args" in fields or "kwargs" in fields):
            self.problem(fields["expr"], "a case has either 'expr' or 'args'/'kwargs', not both")
        if expr is None and call is None:
            self.problem(node, "this case calls nothing: give 'tests.call' or an 'expr'")
        if ("expect" in fields) == ("raises" in fields):
            self.problem(node, "a case needs exactly one of 'expect' and 'raises'")
        expect = self.value(fields["expect"]) if "expect" in fields else None
        raises = self.text(fields, "raises", node)
        if raises is not None and not IDENTIFIER_RE.fullmatch(raises):
            self.problem(fields["raises"], f"'raises' must name an exception, not '{raises}'")
        rtol = self.number(fields, "rtol")
        atol = self.number(fields, "atol")
        if len(self.problems) > before or name is None:
            return None
        return Case(
            name=name,
            location=self.at(node),
            args=tuple(args),
            kwargs=dict(kwargs),
            expr=expr,
            expect=expect,
            has_expect="expect" in fields,
            raises=raises,
            rtol=rtol,
            atol=atol,
        )

    def read_property(self, node: yaml.Node, call: str | None) -> Property | None:
        fields = self.mapping(node, PROPERTY_KEYS, "property")
        if fields is None:
            return None
        before = len(self.problems)
        name = self.text(fields, "name", node, required=True)
        inputs = self.text(fields, "inputs", node, required=True)
        reference = self.text(fields, "reference", node, required=True)
        if call is None:
            self.problem(node, "a property needs 'tests.call', the function it checks")
        trials = self.number(fields, "trials")
        if trials is not None and (trials != int(trials) or not 1 <= trials <= schema.MAX_TRIALS):
            limit = schema.MAX_TRIALS
            self.problem(fields["trials"], f"'trials' must be a whole number from 1 to {limit}")
        rtol = self.number(fields, "rtol")
        atol = self.number(fields, "atol")
        if len(self.problems) > before or not (name and inputs and reference):
            return None
        return Property(
            name=name,
            location=self.at(node),
            inputs=inputs,
            reference=reference,
            trials=schema.TRIALS if trials is None else int(trials),
            rtol=rtol,
            atol=atol,
        )

    # -- typed pieces ----------------------------------------------------------------------

    def mapping(
        self, node: yaml.Node, known: Sequence[str], what: str
    ) -> dict[str, yaml.Node] | None:
        """A mapping node's keys and value nodes; unknown and repeated keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"a {what} must be a mapping of keys ({', '.join(known)})")
            return None
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.problem(
                    key_node,
                    f"unknown key '{key}' in a {what}{hint}; known keys: {', '.join(known)}",
                )
            elif key in fields:
                self.problem(key_node, f"key '{key}' appears twice in this {what}")
            else:
                fields[key] = value_node
        return fields

    def scalar(self, node: yaml.Node) -> str:
        return str(node.value) if isinstance(node, yaml.ScalarNode) else "<not a name>"

    def text(
        self, fields: dict[str, yaml.Node], key: str, parent: yaml.Node, required: bool = False
    ) -> str | None:
        node = fields.get(key)
        if node is None:
            if required:
                self.problem(parent, f"missing key '{key}'")
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.problem(node, f"'{key}' must be text")
            return None
        if not str(node.value).strip():
            self.problem(node, f"'{key}' is empty")
            return None
        return str(node.value)

    def number(self, fields: dict[str, yaml.Node], key: str) -> float | None:
        node = fields.get(key)
        if node is None:
            return None
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.problem(node, f"'{key}' must be a non-negative number")
            return None
        return float(value)

    def choice(self, fields: dict[str, yaml.Node], key: str, options: Sequence[str]) -> str | None:
        node = fields.get(key)
        if node is None:
            return None
        value = self.scalar(node)
        if value not in options:
            self.problem(node, f"'{key}' must be one of {', '.join(options)}, not '{value}'")
            return None
        return value

    def strings(
        self, node: yaml.Node | None, key: str, pattern: re.Pattern[str], example: str
    ) -> list[str]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"'{key}' must be a list")
            return []
        found = []
        for item in node.value:
            value = self.scalar(item)
            if not isinstance(item, yaml.ScalarNode) or not pattern.fullmatch(value):
                self.problem(item, f"'{value}' in '{key}' is not {example}")
            else:
                found.append(value)
        return found

    def tags(self, node: yaml.Node | None) -> list[str]:
        return self.strings(
            node, "tags", TAG_RE, "a tag (letters, digits, -_. and :: between levels, no spaces)"
        )

    def value(self, node: yaml.Node) -> Any:
        """A test value as plain Python, checking the special `{array, dtype}`/`{py}` forms."""
        for special in _special_mappings(node):
            keys = {self.scalar(k) for k, _ in special.value}
            if keys not in ({"array"}, {"array", "dtype"}, {"py"}):
                self.problem(
                    special,
                    'a mapping value must be {array: [...], dtype: ...} or {py: "expression"}',
                )
        try:
            return yaml.constructor.SafeConstructor().construct_document(node)
        except yaml.YAMLError as error:
            self.problem(node, f"cannot read this value: {error}")
            return None


def _retired_cloze(old: str) -> str:
    # Every deletion number the note had, or its cards beyond the first would turn up empty.
    numbers = sorted({int(n) for n in CLOZE_RE.findall(old) if int(n) > 0}) or [1]
    deletions = " ".join(f"{{{{c{n}::delete it}}}}" for n in numbers)
    return RETIRED_CLOZE.format(deletions=deletions)


# libyaml's parser (when PyYAML was built with it) reads a file about ten times faster than
# PyYAML's pure-Python one, which was most of a rebuild's time. Both give the same nodes and
# line numbers for a file both accept; PyYAML's own parser still reads the files libyaml
# rejects, so that syntax errors are reported in the same words as ever.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


# Far beyond any real note, and far below what makes a parser recurse until the stack is gone
# (libyaml's composer then crashes the process) or an alias expand without end.
MAX_DEPTH = 64
MAX_VALUES = 100_000


def _too_deep(text: str) -> int | None:
    """The line where collections nest more than MAX_DEPTH deep, before any node is built.

    Reads events, which parsers produce without recursing, and stops at that line. None when the
    nesting stays within MAX_DEPTH, or the text is not YAML (composing it says where and why).
    """
    # Since PyYAML 6.0.4, libyaml refuses a text nested 1,000 deep before it gives a single
    # event, and composing with PyYAML's own parser (the fallback for what libyaml refuses)
    # would then recurse until Python's stack runs out. PyYAML's parser reads events without
    # recursing, so it is asked too, wherever libyaml stops early.
    for loader in (_FAST_LOADER, yaml.SafeLoader):
        depth = 0
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        return event.start_mark.line + 1 if event.start_mark else 1
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
            return None
        except yaml.YAMLError:
            continue
    return None


def _oversized(document: yaml.Node) -> yaml.Node | None:
    """The node where the document, its aliases expanded, passes MAX_VALUES values or
    MAX_DEPTH levels (an alias inside itself does both); None if it stays within them."""
    stack = [(document, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_VALUES or depth > MAX_DEPTH:
            return node
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in node.value for part in pair)
    return None


def _id_of(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "id" and isinstance(value, yaml.ScalarNode) and value.value:
                return str(value.value)
    return None


def _special_mappings(node: yaml.Node) -> Iterator[yaml.MappingNode]:
    """Mapping nodes inside a test value, outermost first, not descending into them."""
    if isinstance(node, yaml.MappingNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _special_mappings(item)


# --- the cache -------------------------------------------------------------------------------
# Parsing and checking the YAML is most of what a rebuild with few changes has left to do, so
# each file's notes and problems are remembered under a hash of its bytes, its path and the
# loader itself.

STAGE = "load"
_KINDS = (Note, Tests, Case, Property, Location, Problem)


def _read(path: Path, shown: Path, cache: Store | None) -> tuple[list[Note], list[Problem]]:
    """One file's notes and problems: remembered if its bytes were read before, else read."""
    if cache is None:
        reader = _Reader(shown)
        return reader.read_file(path), reader.problems
    try:
        data = path.read_bytes()
    except OSError:
        return _read(path, shown, None)  # the reader says why
    key = digest(_loader_identity(), shown.as_posix(), data)
    remembered = _recall(cache, key)
    if remembered is not None:
        return remembered
    reader = _Reader(shown)
    notes = reader.read_file(path)
    with contextlib.suppress(OSError, TypeError):
        # Only if the file did not change while it was read: else the entry would lie. A value
        # JSON cannot hold (a date in a test case) leaves the file uncached (TypeError).
        if path.read_bytes() == data:
            cache.put(STAGE, key, to_json([notes, reader.problems]))
    return notes, reader.problems


@functools.cache
def _loader_identity() -> str:
    """Everything besides a file that its notes depend on: this module, the note types, the
    YAML parser and Python."""
    parts = [
        Path(__file__).with_name(m).read_bytes()
        for m in ("load.py", "notes.py", "problems.py", "schema.py")
    ]
    return digest(*parts, f"{yaml.__version__} {_FAST_LOADER.__name__} {sys.version}")


def _recall(cache: Store, key: str) -> tuple[list[Note], list[Problem]] | None:
    found = cache.get(STAGE, key)
    if found is None:
        return None
    try:
        notes, problems = from_json(found, _KINDS)
    except ValueError:
        return None  # damaged: read the file
    if not (
        isinstance(notes, list)
        and isinstance(problems, list)
        and all(isinstance(note, Note) for note in notes)
        and all(isinstance(problem, Problem) for problem in problems)
    ):
        return None
    return notes, problems
