"""Loading: `source/*.yaml` files to validated notes, with every problem of every file.

Line numbers come from PyYAML's node marks, so the loader walks composed nodes rather than
loaded dictionaries (which forget where they came from).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from builder.notes import Case, Note, Property, Tests
from builder.problems import Location, Problem

FILE_KEYS = ("deck", "tags", "notes")
NOTE_KEYS = (
    "id",
    "front",
    "back",
    "cloze",
    "refs",
    "tags",
    "level",
    "figure",
    "code",
    "tests",
    "long",
)
TESTS_KEYS = ("call", "cases", "properties", "setup", "rtol", "atol", "timeout")
CASE_KEYS = ("name", "args", "kwargs", "expr", "expect", "raises", "rtol", "atol")
PROPERTY_KEYS = ("name", "inputs", "reference", "trials", "rtol", "atol")
LEVELS = ("easy", "medium", "hard")

ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
TAG_RE = re.compile(r"[A-Za-z0-9_.-]+(?:::[A-Za-z0-9_.-]+)*")
REF_RE = re.compile(r"[a-z0-9]+-q\d+")
FIGURE_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
CLOZE_RE = re.compile(r"\{\{c\d+::")
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A fence opener: three or more backticks or tildes, then an optional info string.
FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)", re.MULTILINE)
UNVERIFIABLE_FENCES = ("", "python", "py", "python3", "numpy", "ipython", "pycon")


@dataclass(frozen=True)
class Loaded:
    """The notes of a project, in file order, and every problem found on the way."""

    notes: tuple[Note, ...]
    problems: tuple[Problem, ...]


def load(root: Path, source_dir: str = "source") -> Loaded:
    """Reads every `*.yaml` file under `root/source_dir` (sorted by path).

    A note with a problem is left out of `notes`; its problems are in `problems`, each naming
    the file and line (relative to `root`) and, where known, the note id.
    """
    folder = root / source_dir
    problems: list[Problem] = []
    notes: list[Note] = []
    if not folder.is_dir():
        here = Location(Path(source_dir), 0)
        return Loaded((), (Problem(here, f"no folder '{source_dir}' with note files"),))
    files = sorted(p for p in folder.rglob("*.yaml") if p.is_file())
    for path in files:
        reader = _Reader(path.relative_to(root))
        notes.extend(reader.read_file(path))
        problems.extend(reader.problems)
    problems.extend(_duplicate_ids(notes))
    ordered = tuple(replace(note, position=i) for i, note in enumerate(notes))
    return Loaded(ordered, tuple(problems))


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
        try:
            document = yaml.compose(text, Loader=yaml.SafeLoader)
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
        note_id = self.text(fields, "id", node, required=True)
        if note_id is not None and not ID_RE.fullmatch(note_id):
            self.problem(
                fields["id"],
                f"id '{note_id}' is not kebab-case (lowercase letters, digits and single hyphens)",
            )
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
        tags = [*default_tags, *self.tags(fields.get("tags"))]
        level = self.choice(fields, "level", LEVELS)
        if level:
            tags.append(f"level::{level}")
        if code is not None and not any(t.startswith("kind::") for t in tags):
            tags.append("kind::code")
        figure = self.text(fields, "figure", node)
        if figure is not None and not FIGURE_RE.fullmatch(figure):
            self.problem(fields["figure"], f"figure name '{figure}' is not kebab-case")
        refs = self.strings(fields.get("refs"), "refs", REF_RE, "a seed question id like dl73-q05")
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
            tags=tuple(dict.fromkeys(tags)),
            long=long_reason,
        )

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
        if timeout is not None and not 0 < timeout <= 120:
            self.problem(fields["timeout"], "'timeout' must be between 0 and 120 seconds")
        if len(self.problems) > before:
            return None
        return Tests(
            location=self.at(node),
            call=call,
            cases=tuple(cases),
            properties=tuple(properties),
            setup=setup,
            rtol=1e-6 if rtol is None else rtol,
            atol=1e-9 if atol is None else atol,
            timeout=5.0 if timeout is None else timeout,
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
        if trials is not None and (trials != int(trials) or not 1 <= trials <= 1000):
            self.problem(fields["trials"], "'trials' must be a whole number from 1 to 1000")
        rtol = self.number(fields, "rtol")
        atol = self.number(fields, "atol")
        if len(self.problems) > before or not (name and inputs and reference):
            return None
        return Property(
            name=name,
            location=self.at(node),
            inputs=inputs,
            reference=reference,
            trials=25 if trials is None else int(trials),
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
