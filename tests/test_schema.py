"""The source format is declared once: the loader and the docs follow the declarations."""

from __future__ import annotations

import pytest

from builder import load, schema
from builder.notes import Property
from builder.notes import Tests as CodeTests  # as `Tests`, pytest would try to collect it
from builder.problems import Location
from tests.conftest import REPO, MakeProject

DOCS = (REPO / "docs" / "source-format.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("title", schema.TABLES)
def test_the_docs_show_each_table_of_keys_as_declared(title: str) -> None:
    # Regenerate with `python -m builder.schema` when a key changes.
    assert schema.table(schema.TABLES[title]) in DOCS


def test_the_loader_knows_exactly_the_declared_keys() -> None:
    assert schema.names(schema.FILE) == load.FILE_KEYS
    assert schema.names(schema.NOTE) == load.NOTE_KEYS
    assert schema.names(schema.TESTS) == load.TESTS_KEYS
    assert schema.names(schema.CASE) == load.CASE_KEYS
    assert schema.names(schema.PROPERTY) == load.PROPERTY_KEYS


def test_numeric_defaults_are_the_declared_ones(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: A
                notes:
                  - id: code-f
                    front: Write `f`.
                    code: "def f(x):\\n    return x\\n"
                    tests:
                      call: f
                      cases:
                        - name: same
                          args: [1]
                          expect: 1
                      properties:
                        - name: agrees
                          inputs: "def inputs(rng):\\n    return 1\\n"
                          reference: "def reference(x):\\n    return x\\n"
            """
        }
    )
    (note,) = load.load(root).notes
    assert note.tests is not None
    assert (note.tests.rtol, note.tests.atol, note.tests.timeout) == (
        schema.RTOL,
        schema.ATOL,
        schema.TIMEOUT_S,
    )
    assert note.tests.properties[0].trials == schema.TRIALS
    here = Location(REPO, 1)
    assert CodeTests(here, None, ()).timeout == schema.TIMEOUT_S
    assert Property("p", here, "i", "r").trials == schema.TRIALS
