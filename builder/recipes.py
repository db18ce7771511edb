"""Recipes: which notes go into which deck file, chosen by tag expressions.

A recipe is `decks/<name>.yaml`:

    name: CV Interview Prep — Coding        # the deck; source files' decks become its subdecks
    description: Every verified numpy answer.
    output: cv-coding.apkg                   # optional: defaults to <recipe file stem>.apkg
    include: kind::code                      # optional tag expression: defaults to every note
    exclude: level::easy                     # optional tag expression

Tag expressions combine tag patterns with `and`, `or`, `not` and parentheses. A pattern matches a
tag equal to it or below it in the hierarchy (`topic::detection` matches
`topic::detection::nms`, as Anki's own `tag:` search does), and `*` matches any characters
(`topic::det*`).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from builder.notes import Note
from builder.problems import Location, Problem

RECIPE_KEYS = ("name", "description", "output", "include", "exclude")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([^\s()]+))")
_OUTPUT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.apkg")


@dataclass(frozen=True)
class Pattern:
    pattern: str


@dataclass(frozen=True)
class Not:
    operand: TagExpression


@dataclass(frozen=True)
class And:
    left: TagExpression
    right: TagExpression


@dataclass(frozen=True)
class Or:
    left: TagExpression
    right: TagExpression


TagExpression = Pattern | Not | And | Or


@dataclass(frozen=True)
class Recipe:
    """One deck to build: its name, the file it is written to, and which notes it takes."""

    name: str
    output: str
    location: Location
    description: str = ""
    include: TagExpression | None = None
    exclude: TagExpression | None = None
    include_at: Location | None = None  # where `include` is written
    exclude_at: Location | None = None


@dataclass(frozen=True)
class Recipes:
    recipes: tuple[Recipe, ...]
    problems: tuple[Problem, ...]


class TagExpressionError(ValueError):
    """A tag expression that does not parse; the message says where and why."""


def load_recipes(root: Path, decks_dir: str = "decks") -> Recipes:
    """Reads every `decks/*.yaml` recipe (sorted by file name), validating every key."""
    recipes: list[Recipe] = []
    problems: list[Problem] = []
    for path in sorted(p for p in (root / decks_dir).glob("*.yaml") if p.is_file()):
        recipe, found = _read_recipe(path, path.relative_to(root))
        problems.extend(found)
        if recipe:
            recipes.append(recipe)
    outputs: dict[str, Recipe] = {}
    for recipe in recipes:
        if recipe.output in outputs:
            other = outputs[recipe.output].location
            message = f"output '{recipe.output}' is also written by the recipe at {other}"
            problems.append(Problem(recipe.location, message))
        outputs.setdefault(recipe.output, recipe)
    return Recipes(tuple(recipes), tuple(problems))


def select(recipe: Recipe, notes: Sequence[Note]) -> tuple[Note, ...]:
    """The notes the recipe takes, in their source order."""
    return tuple(
        note
        for note in notes
        if (recipe.include is None or matches(recipe.include, note.tags))
        and not (recipe.exclude is not None and matches(recipe.exclude, note.tags))
    )


def unmatched(recipe: Recipe, notes: Sequence[Note]) -> tuple[Problem, ...]:
    """What is wrong with the recipe for these notes: each tag pattern that matches no tag of
    any note (a typo would quietly build a smaller deck), with the closest tag as a guess; and
    a recipe that selects no note at all."""
    tags = sorted({tag for note in notes for tag in note.tags})
    # A guess may be a level above the tags notes carry (`topic::detection` for
    # `topic::detection::nms`), as a pattern matches everything below it.
    levels = sorted(
        {tag.lower().rsplit("::", n)[0] for tag in tags for n in range(tag.count("::") + 1)}
    )
    problems = []
    for expression, at in (
        (recipe.include, recipe.include_at),
        (recipe.exclude, recipe.exclude_at),
    ):
        for pattern in _patterns(expression):
            if not any(_tag_matches(pattern, tag) for tag in tags):
                close = difflib.get_close_matches(pattern.lower(), levels, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                message = f"tag pattern '{pattern}' matches no tag of any note{hint}"
                problems.append(Problem(at or recipe.location, message))
    if not problems and notes and not select(recipe, notes):
        problems.append(Problem(recipe.location, "this recipe selects no note"))
    return tuple(problems)


def _patterns(expression: TagExpression | None) -> list[str]:
    match expression:
        case None:
            return []
        case Pattern(pattern):
            return [pattern]
        case Not(operand):
            return _patterns(operand)
        case And(left, right) | Or(left, right):
            return _patterns(left) + _patterns(right)


def matches(expression: TagExpression, tags: Sequence[str]) -> bool:
    """Whether a note with these tags satisfies the expression."""
    match expression:
        case Pattern(pattern):
            return any(_tag_matches(pattern, tag) for tag in tags)
        case Not(operand):
            return not matches(operand, tags)
        case And(left, right):
            return matches(left, tags) and matches(right, tags)
        case Or(left, right):
            return matches(left, tags) or matches(right, tags)


def _tag_matches(pattern: str, tag: str) -> bool:
    pattern, tag = pattern.lower(), tag.lower()  # Anki's tags are case-insensitive
    return fnmatch.fnmatchcase(tag, pattern) or tag.startswith(pattern + "::")


def parse_tags(text: str) -> TagExpression:
    """Parses a tag expression such as `topic::detection* and not kind::code`.

    Raises TagExpressionError, saying what was expected where, when the text does not parse.
    """
    tokens: list[str] = []
    position = 0
    while position < len(text.rstrip()):
        token = _TOKEN.match(text, position)
        assert token is not None  # the pattern accepts any non-space run
        tokens.append(token.group(token.lastindex or 0))
        position = token.end()
    if not tokens:
        raise TagExpressionError("the tag expression is empty")
    parser = _Parser(tokens)
    expression = parser.expression()
    if parser.position < len(tokens):
        raise TagExpressionError(f"unexpected '{tokens[parser.position]}' in '{text}'")
    return expression


class _Parser:
    """Recursive descent: or-terms of and-terms of (not) atoms. Private to parse_tags."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise TagExpressionError("the tag expression ends too early")
        self.position += 1
        return token

    def expression(self) -> TagExpression:
        left = self.term()
        while self.peek() == "or":
            self.take()
            left = Or(left, self.term())
        return left

    def term(self) -> TagExpression:
        left = self.factor()
        while self.peek() == "and":
            self.take()
            left = And(left, self.factor())
        return left

    def factor(self) -> TagExpression:
        token = self.take()
        if token == "not":
            return Not(self.factor())
        if token == "(":
            inner = self.expression()
            if self.peek() != ")":
                raise TagExpressionError("a '(' is never closed")
            self.take()
            return inner
        if token in ("and", "or", ")"):
            raise TagExpressionError(f"expected a tag before '{token}'")
        return Pattern(token)


def _read_recipe(path: Path, shown: Path) -> tuple[Recipe | None, list[Problem]]:
    def problem(node: yaml.Node | None, message: str) -> Problem:
        line = node.start_mark.line + 1 if node is not None else 1
        return Problem(Location(shown, line), message)

    try:
        document = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    # RecursionError: PyYAML's composer recurses once per level of nesting.
    except (yaml.YAMLError, UnicodeDecodeError, OSError, RecursionError) as error:
        mark = getattr(error, "problem_mark", None)
        location = Location(shown, mark.line + 1 if mark else 1)
        what = getattr(error, "problem", None) or error
        if isinstance(error, RecursionError):
            what = "values nest too deeply"
        return None, [Problem(location, f"cannot read recipe: {what}")]
    if not isinstance(document, yaml.MappingNode):
        return None, [problem(document, "a recipe must be a mapping with at least 'name'")]
    problems: list[Problem] = []
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in document.value:
        # Not str() of any node: a mapping used as a key may repeat itself through aliases.
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<not a name>"
        if key not in RECIPE_KEYS:
            close = difflib.get_close_matches(key, RECIPE_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(problem(key_node, f"unknown key '{key}' in a recipe{hint}"))
        elif not isinstance(value_node, yaml.ScalarNode) or not str(value_node.value).strip():
            problems.append(problem(value_node, f"'{key}' must be non-empty text"))
        else:
            fields[key] = value_node
    if "name" not in fields and not any("'name'" in p.message for p in problems):
        problems.append(problem(document, "missing key 'name': the deck's name in Anki"))
    output = str(fields["output"].value) if "output" in fields else f"{path.stem}.apkg"
    if not _OUTPUT.fullmatch(output):
        problems.append(problem(fields.get("output", document), f"'{output}' is not a .apkg name"))
    expressions: dict[str, TagExpression] = {}
    places = {key: Location(shown, node.start_mark.line + 1) for key, node in fields.items()}
    for key in ("include", "exclude"):
        if key in fields:
            try:
                expressions[key] = parse_tags(str(fields[key].value))
            except TagExpressionError as error:
                problems.append(problem(fields[key], f"'{key}': {error}"))
    if problems:
        return None, problems
    recipe = Recipe(
        name=str(fields["name"].value),
        output=output,
        location=Location(shown, 1),
        description=str(fields["description"].value) if "description" in fields else "",
        include=expressions.get("include"),
        exclude=expressions.get("exclude"),
        include_at=places.get("include"),
        exclude_at=places.get("exclude"),
    )
    return recipe, []
