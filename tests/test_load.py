"""Loading: source files become notes; every problem names file:line and the note id."""

from __future__ import annotations

from pathlib import Path

from builder.load import load
from builder.notes import Note
from tests.conftest import MakeProject

IOU = """
    deck: Object Detection
    tags: [topic::detection]
    notes:
      - id: iou-formula
        front: What is the IoU of boxes $A$ and $B$?
        back: $|A \\cap B| / |A \\cup B|$
        refs: [cvmid-q04]
        level: easy
        tags: [kind::formula]
"""


def problems_of(root: Path) -> list[str]:
    return [str(p) for p in load(root).problems]


def only_note(root: Path) -> Note:
    loaded = load(root)
    assert loaded.problems == ()
    (note,) = loaded.notes
    return note


def test_a_basic_note_carries_file_tags_its_own_tags_and_its_level(
    make_project: MakeProject,
) -> None:
    note = only_note(make_project({"source/detection.yaml": IOU}))
    assert note.id == "iou-formula"
    assert note.deck == "Object Detection"
    assert note.kind == "basic"
    assert note.tags == ("topic::detection", "kind::formula", "level::easy")
    assert note.refs == ("cvmid-q04",)
    assert str(note.location) == "source/detection.yaml:4"


def test_a_cloze_note_keeps_its_deletions(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: coco-thresholds
                    cloze: COCO mAP averages IoU thresholds from {{c1::0.50}} to {{c2::0.95}}.
            """
        }
    )
    note = only_note(root)
    assert note.kind == "cloze"
    assert "{{c1::0.50}}" in note.cloze


def test_a_code_note_is_tagged_kind_code_and_keeps_its_cases(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: Coding
                notes:
                  - id: code-add
                    front: Write `add(a, b)`.
                    code: |
                      def add(a, b):
                          return a + b
                    tests:
                      call: add
                      cases:
                        - name: arrays add elementwise
                          args: [[1, 2], {array: [3, 4], dtype: uint8}]
                          expect: [4, 6]
                        - name: strings are rejected
                          args: [1, "x"]
                          raises: TypeError
            """
        }
    )
    note = only_note(root)
    assert note.tags == ("kind::code",)
    assert note.code == "def add(a, b):\n    return a + b\n"
    assert note.tests is not None
    first, second = note.tests.cases
    assert first.args == ([1, 2], {"array": [3, 4], "dtype": "uint8"})
    assert first.expect == [4, 6] and first.has_expect
    assert second.raises == "TypeError" and not second.has_expect
    assert str(first.location) == "source/a.yaml:11"


def test_a_note_names_its_sources_as_a_list_of_one_line_texts(make_project: MakeProject) -> None:
    sourced = IOU.replace(
        "        level: easy\n",
        "        sources:\n"
        "          - Everingham et al. 2010, The PASCAL VOC Challenge (IJCV 88), §4.4\n"
        "          - Lin et al. 2014, Microsoft COCO (arXiv:1405.0312), §5\n"
        "        level: easy\n",
    )
    note = only_note(make_project({"source/detection.yaml": sourced}))
    assert note.sources == (
        "Everingham et al. 2010, The PASCAL VOC Challenge (IJCV 88), §4.4",
        "Lin et al. 2014, Microsoft COCO (arXiv:1405.0312), §5",
    )


def test_sources_that_are_not_a_list_of_one_line_texts_are_errors(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: one-text
                    front: Q?
                    back: A.
                    sources: He et al. 2016, Deep Residual Learning
                  - id: blank-and-nested
                    front: Q2?
                    back: A.
                    sources:
                      - "  "
                      - [He et al. 2016]
                      - |
                        two
                        lines
            """
        }
    )
    assert problems_of(root) == [
        "source/a.yaml:6: one-text: 'sources' must be a list",
        "source/a.yaml:11: blank-and-nested: '  ' in 'sources' is not a source (author, year, "
        "title, section)",
        "source/a.yaml:12: blank-and-nested: '<not a name>' in 'sources' is not a source "
        "(author, year, title, section)",
        "source/a.yaml:13: blank-and-nested: 'two\nlines\n' in 'sources' is not a source "
        "(author, year, title, section)",
    ]


def test_an_unknown_key_is_an_error_with_a_suggestion(make_project: MakeProject) -> None:
    root = make_project(
        {"source/a.yaml": "deck: A\nnotes:\n  - id: x\n    front: Q?\n    bakc: A.\n"}
    )
    assert problems_of(root) == [
        "source/a.yaml:5: x: unknown key 'bakc' in a note (did you mean 'back'?); known keys: "
        "id, front, back, cloze, refs, sources, tags, level, figure, code, tests, long, retired",
        "source/a.yaml:3: x: missing key 'back' (the answer)",
    ]


def test_missing_and_empty_fields_are_errors(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: no-front
                    back: A.
                  - id: empty-back
                    front: Q?
                    back: "  "
                  - front: Who am I?
                    back: Nobody.
            """
        }
    )
    assert problems_of(root) == [
        "source/a.yaml:3: no-front: missing key 'front' (or 'cloze' for a cloze note)",
        "source/a.yaml:7: empty-back: 'back' is empty",
        "source/a.yaml:8: (no id): missing key 'id'",
    ]


def test_duplicate_ids_name_both_places(make_project: MakeProject) -> None:
    note = "deck: A\nnotes:\n  - id: same\n    front: Q?\n    back: A.\n"
    root = make_project({"source/a.yaml": note, "source/b.yaml": note})
    assert problems_of(root) == [
        "source/b.yaml:3: same: duplicate id 'same', also used at source/a.yaml:3: "
        "ids must be unique across all files"
    ]


def test_bad_tags_ids_and_levels_are_errors(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: Bad_Id
                    front: Q?
                    back: A.
                    tags: [topic detection]
                    level: trivial
            """
        }
    )
    assert problems_of(root) == [
        "source/a.yaml:3: Bad_Id: id 'Bad_Id' is not kebab-case "
        "(lowercase letters, digits and single hyphens)",
        "source/a.yaml:6: Bad_Id: 'topic detection' in 'tags' is not a tag "
        "(letters, digits, -_. and :: between levels, no spaces)",
        "source/a.yaml:7: Bad_Id: 'level' must be one of easy, medium, hard, not 'trivial'",
    ]


def test_a_yaml_syntax_error_names_its_line(make_project: MakeProject) -> None:
    root = make_project({"source/a.yaml": "deck: A\nnotes:\n  - id: x\n    front: [oops\n"})
    (problem,) = problems_of(root)
    assert problem.startswith("source/a.yaml:5: YAML syntax error:")


def test_python_code_in_a_back_must_be_verified_or_marked_illustrative(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: sneaky
                    front: Q?
                    back: |
                      ```python
                      print("unverified")
                      ```
                  - id: honest
                    front: Q?
                    back: |
                      ```text
                      for each box: keep it
                      ```
            """
        }
    )
    assert problems_of(root) == [
        "source/a.yaml:5: sneaky: ```python block in 'back' would put unverified code on a "
        "card: move answer code to 'code' with 'tests', or fence illustrative code as ```text "
        "or ```pseudo"
    ]


def test_code_needs_tests_and_cases_need_an_expectation(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: untested
                    front: Q?
                    code: "x = 1"
                  - id: vague
                    front: Q?
                    code: "def f(): return 1"
                    tests:
                      call: f
                      cases:
                        - name: no expectation
                          args: []
                        - name: odd value
                          args: [{shape: [2, 2]}]
                          expect: 1
            """
        }
    )
    assert problems_of(root) == [
        "source/a.yaml:5: untested: 'code' needs 'tests': only verified code may ship",
        "source/a.yaml:12: vague: a case needs exactly one of 'expect' and 'raises'",
        "source/a.yaml:15: vague: a mapping value must be {array: [...], dtype: ...} "
        'or {py: "expression"}',
    ]


def test_every_file_is_read_and_all_problems_come_together(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": "deck: A\nnotes: []\n",
            "source/b.yaml": "dekc: B\nnotes:\n  - id: fine\n    front: Q?\n    back: A.\n",
            "source/c.yaml": IOU,
        }
    )
    loaded = load(root)
    assert [str(p) for p in loaded.problems] == [
        "source/a.yaml:2: 'notes' must be a non-empty list of notes",
        "source/b.yaml:1: unknown key 'dekc' in a file (did you mean 'deck'?); "
        "known keys: deck, tags, notes",
        "source/b.yaml:1: missing key 'deck'",
    ]
    assert [n.id for n in loaded.notes] == ["iou-formula"]


def test_notes_are_numbered_in_file_order(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/b.yaml": "deck: B\nnotes:\n  - id: second\n    front: Q?\n    back: A.\n",
            "source/a.yaml": "deck: A\nnotes:\n  - id: first\n    front: Q?\n    back: A.\n",
        }
    )
    assert [(n.id, n.position) for n in load(root).notes] == [("first", 0), ("second", 1)]


def test_a_retired_note_becomes_a_notice_with_its_old_id_kind_and_tags_in_the_retired_deck(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: Coding
                tags: [topic::algorithms]
                notes:
                  - id: code-add
                    front: Write `add(a, b)`.
                    retired: replaced by code-sum
                    level: easy
                    code: |
                      def add(a, b): ...
                    tests: {cases: "no longer checked: a retired note's code never ships"}
                  - id: add-cloze
                    cloze: "{{c1::Addition}} is {{c3::commutative}}."
                    retired: too easy
            """
        }
    )
    loaded = load(root)
    assert loaded.problems == ()
    code, cloze = loaded.notes
    assert (code.id, code.kind, code.deck, str(code.location)) == (
        "code-add",
        "basic",
        "Retired",
        "source/a.yaml:4",
    )
    assert code.tags == ("topic::algorithms", "level::easy", "kind::code", "deck::retired")
    assert code.front.startswith("**Retired:** this note is no longer part of the deck.")
    assert code.back.startswith("Why: replaced by code-sum\n\n")
    assert (code.code, code.tests) == (None, None)
    assert cloze.kind == "cloze"
    assert cloze.cloze.endswith("{{c1::delete it}} {{c3::delete it}}.")


def test_a_retired_note_keeps_its_front_or_cloze_and_gives_a_reason(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: gone
                    retired: no longer asked
                  - id: silent
                    front: Q?
                    retired: ""
            """
        }
    )
    assert problems_of(root) == [
        "source/a.yaml:3: gone: a retired note keeps its 'front' (or its 'cloze'), whatever the "
        "text: Anki only updates a note of the same kind",
        "source/a.yaml:7: silent: 'retired' is empty",
    ]
