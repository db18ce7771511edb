"""Verification: every code answer is run against its numpy tests before the deck is built."""

from __future__ import annotations

import datetime
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from builder.cache import Store
from builder.notes import Case, Note, Property
from builder.notes import Tests as CodeTests  # as `Tests`, pytest would try to collect it
from builder.problems import Location
from builder.verify import Verification, verify

SOURCE = Path("source/code.yaml")


def at(line: int) -> Location:
    return Location(SOURCE, line)


def case(name: str, line: int, *args: Any, **fields: Any) -> Case:
    """A case as the loader makes it: raw YAML values, `has_expect` when `expect` was given."""
    return Case(name=name, location=at(line), args=args, has_expect="expect" in fields, **fields)


def code_note(
    note_id: str,
    code: str,
    cases: Sequence[Case],
    *,
    line: int = 1,
    call: str | None = "f",
    **tests: Any,
) -> Note:
    return Note(
        id=note_id,
        location=at(line),
        deck="D",
        kind="basic",
        front="Write it.",
        code=textwrap.dedent(code).lstrip("\n"),
        tests=CodeTests(location=at(line + 2), call=call, cases=tuple(cases), **tests),
    )


def run(tmp_path: Path, *notes: Note, **options: Any) -> Verification:
    return verify(notes, cache=Store(tmp_path / "cache"), **options)


MEAN = """
    import numpy as np


    def f(values):
        total = float(np.sum(values))
        return total / len(values)
"""


def test_a_correct_answer_passes_and_earns_the_evidence_line_on_its_card(tmp_path: Path) -> None:
    iou = code_note(
        "code-iou",
        """
        import numpy as np


        def iou(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            x1, y1 = np.maximum(a[..., 0], b[..., 0]), np.maximum(a[..., 1], b[..., 1])
            x2, y2 = np.minimum(a[..., 2], b[..., 2]), np.minimum(a[..., 3], b[..., 3])
            inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
            area = lambda box: (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])
            return inter / (area(a) + area(b) - inter)
        """,
        [
            case("identical boxes", 10, [0, 0, 2, 2], [0, 0, 2, 2], expect=1.0),
            case("touching boxes", 11, [0, 0, 1, 1], [1, 0, 2, 1], expect=0.0),
            case("a third overlap", 12, [0, 0, 2, 1], [1, 0, 3, 1], expect={"py": "1 / 3"}),
            case(
                "one box against several",
                13,
                [[0, 0, 1, 1], [0, 0, 2, 2]],
                {"array": [0, 0, 1, 1], "dtype": "int64"},
                expect=[1.0, 0.25],
            ),
            case(
                "no boxes",
                14,
                {"py": "np.zeros((0, 4))"},
                {"py": "np.zeros((0, 4))"},
                expect={"py": "np.zeros(0)"},
            ),
            case("round trip", 15, expr="iou(*boxes())", expect=0.25),
        ],
        call="iou",
        setup="def boxes():\n    return [0, 0, 1, 1], [0, 0, 2, 2]\n",
        properties=(
            Property(
                name="agrees with a plain loop",
                location=at(16),
                inputs="def inputs(rng):\n    return rng.random((5, 4)), rng.random((5, 4))\n",
                reference=textwrap.dedent("""
                    def reference(a, b):
                        out = []
                        for p, q in zip(a, b):
                            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
                            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
                            area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
                            out.append(w * h / (area(p) + area(q) - w * h))
                        return np.array(out)
                """),
                trials=10,
            ),
        ),
    )

    verification = run(tmp_path, iou)

    assert verification.failures == ()
    evidence = verification.evidence["code-iou"]
    assert evidence.line == (
        "Verified: 6 numpy cases and 1 property check (10 random inputs) passed on numpy "
        + np.__version__
    )
    assert (verification.ran, verification.cached, verification.cases) == (1, 0, 6)


def test_evidence_without_properties_counts_cases_only(tmp_path: Path) -> None:
    mean = code_note("mean", MEAN, [case("one value", 9, [4.0], expect=4.0)])

    evidence = run(tmp_path, mean).evidence["mean"]

    assert evidence.line == f"Verified: 1 numpy case passed on numpy {np.__version__}"


def test_a_wrong_answer_fails_with_a_report_a_person_can_act_on(tmp_path: Path) -> None:
    wrong = code_note(
        "running-max",
        """
        import numpy as np


        def f(values):
            return np.maximum.accumulate(values) + (values > 2.2)
        """,
        [
            case("already sorted", 9, [1.0, 2.0], expect=[1.0, 2.0]),
            case("dips and rises", 10, [1.0, 3.0, 2.0, 2.5], expect=[1.0, 3.0, 3.0, 3.0]),
        ],
        line=4,
    )

    verification = run(tmp_path, wrong)

    assert verification.evidence == {}
    (failure,) = verification.failures
    assert failure.note_id == "running-max"
    assert failure.location == at(10)
    assert failure.report.splitlines() == [
        "source/code.yaml:10: running-max: case 'dips and rises' failed"
        " (note at source/code.yaml:4)",
        "    call:      f(array([1. , 3. , 2. , 2.5]))",
        "    expected:  array([1., 3., 3., 3.])",
        "    actual:    array([1., 4., 3., 4.])",
        "    Arrays are not close (rtol=1e-06, atol=1e-09)",
        "    Mismatched elements: 2 / 4 (50%)",
        "    First mismatch at index (1,): expected 3.0, got 4.0",
        "    Max absolute difference: 1",
        "    Max relative difference: 0.333333",
    ]


def test_long_inputs_are_abbreviated_in_the_report(tmp_path: Path) -> None:
    note = code_note(
        "mean", MEAN, [case("many values", 9, {"py": "np.arange(1000.0)"}, expect=0.0)]
    )

    (failure,) = run(tmp_path, note).failures

    assert "f(array([  0.,   1.,   2., ..., 997., 998., 999.]" in failure.report
    assert len(failure.report) < 1000


def test_an_answer_that_raises_is_reported_with_its_own_traceback(tmp_path: Path) -> None:
    note = code_note("mean", MEAN, [case("no values", 9, [], expect={"py": "np.nan"})])

    (failure,) = run(tmp_path, note).failures

    report = failure.report
    assert report.startswith("source/code.yaml:9: mean: case 'no values' failed")
    assert 'File "<code>", line 6, in f' in report
    assert "return total / len(values)" in report
    assert "ZeroDivisionError: float division by zero" in report
    assert "harness" not in report


def test_check_reports_every_failure_of_the_run_in_note_order(tmp_path: Path) -> None:
    first = code_note(
        "first",
        MEAN,
        [
            case("wrong", 9, [1.0, 3.0], expect=1.0),
            case("right", 10, [1.0, 3.0], expect=2.0),
            case("raises", 11, [], expect=0.0),
        ],
    )
    second = code_note("second", MEAN, [case("wrong too", 30, [2.0], expect=3.0)], line=28)
    passing = code_note("passing", MEAN, [case("right", 50, [2.0], expect=2.0)], line=48)

    verification = run(tmp_path, first, second, passing)

    assert [(f.note_id, f.location) for f in verification.failures] == [
        ("first", at(9)),
        ("first", at(11)),
        ("second", at(30)),
    ]
    assert list(verification.evidence) == ["passing"]


def test_failures_before_a_timeout_are_reported_with_it(tmp_path: Path) -> None:
    note = code_note(
        "spin",
        """
        def f(x):
            while x:
                pass
            return x
        """,
        [case("wrong", 9, 0, expect=1), case("loops", 10, 1, expect=1)],
        timeout=1,
    )

    failures = run(tmp_path, note).failures

    assert [failure.report.splitlines()[0] for failure in failures] == [
        "source/code.yaml:9: spin: case 'wrong' failed (note at source/code.yaml:1)",
        "source/code.yaml:10: spin: case 'loops' timed out after 1 s (note at source/code.yaml:1)",
    ]


def test_a_case_can_expect_an_exception_by_name(tmp_path: Path) -> None:
    note = code_note(
        "radius",
        """
        def f(radius):
            if radius < 0:
                raise ValueError("negative radius")
            return radius
        """,
        [
            case("rejects a negative radius", 9, -1, raises="ValueError"),
            case("also by qualified name", 10, -1, raises="builtins.ValueError"),
            case("accepts zero, so this case is wrong", 11, 0, raises="ValueError"),
        ],
    )

    (failure,) = run(tmp_path, note).failures

    assert failure.location == at(11)
    assert "expected:  raises ValueError" in failure.report
    assert "actual:    returned 0" in failure.report


def test_an_expected_array_with_a_dtype_checks_the_dtype(tmp_path: Path) -> None:
    note = code_note(
        "brighten",
        """
        import numpy as np


        def f(image):
            return np.minimum(image.astype(int) + 10, 255)
        """,
        [
            case(
                "uint8 stays uint8",
                9,
                {"array": [[250, 251]], "dtype": "uint8"},
                expect={"array": [[255, 255]], "dtype": "uint8"},
            ),
            case("values alone", 10, {"array": [1], "dtype": "uint8"}, expect=[11]),
        ],
    )

    (failure,) = run(tmp_path, note).failures

    assert failure.location == at(9)
    assert "dtype int64 is not the expected uint8" in failure.report


def test_a_tuple_result_is_compared_item_by_item_within_tolerance(tmp_path: Path) -> None:
    note = code_note(
        "stats",
        """
        import numpy as np


        def f(values):
            return np.sort(values), float(np.mean(values)), "sorted"
        """,
        [
            case("close enough", 9, [3.0, 1.0], expect=[[1, 3], 2.0000000001, "sorted"]),
            case("second item off", 10, [3.0, 1.0], expect=[[1, 3], 2.5, "sorted"]),
            case("one item short", 11, [3.0, 1.0], expect=[[1, 3], 2.0]),
        ],
    )

    failures = run(tmp_path, note).failures

    assert [failure.location for failure in failures] == [at(10), at(11)]
    assert "item 1: differs by 0.5" in failures[0].report
    assert "returned 3 items, expected 2" in failures[1].report


def test_a_failing_property_names_the_trial_and_how_to_draw_its_inputs(tmp_path: Path) -> None:
    note = code_note(
        "clip",
        """
        def f(x):
            return x if x < 0.9 else 0.9 + (x - 0.9) / 2
        """,
        [case("small", 9, 0.5, expect=0.5)],
        properties=(
            Property(
                name="clips at 0.9",
                location=at(10),
                inputs="def inputs(rng):\n    return rng.random()\n",
                reference="def reference(x):\n    return min(x, 0.9)\n",
                trials=50,
            ),
        ),
    )

    (failure,) = run(tmp_path, note).failures

    seed = next(k for k in range(50) if np.random.default_rng(k).random() >= 0.9)
    assert failure.location == at(10)
    assert f"trial:     {seed + 1} of 50, inputs drawn with np.random.default_rng({seed})" in (
        failure.report
    )
    assert f"inputs:    ({np.random.default_rng(seed).random()!r},)" in failure.report


def test_a_failing_trial_shows_its_arrays_as_the_reference_received_them(tmp_path: Path) -> None:
    note = code_note(
        "top",
        """
        import numpy as np


        def f(x):
            x.sort()  # in place: the report still shows what the trial drew
            return x[-1] if x[-1] < 0.9 else 0.0
        """,
        [case("small", 9, [0.5], expect=0.5)],
        properties=(
            Property(
                name="largest",
                location=at(10),
                inputs="def inputs(rng):\n    return rng.random(3).astype(np.float32)\n",
                reference="def reference(x):\n    x.sort()\n    return x[-1]\n",
                trials=50,
            ),
        ),
    )

    (failure,) = run(tmp_path, note).failures

    seed = next(k for k in range(50) if np.random.default_rng(k).random(3).max() >= 0.9)
    drawn = np.random.default_rng(seed).random(3).astype(np.float32)
    assert f"inputs:    ({drawn!r},)" in failure.report


def test_code_that_does_not_load_is_reported_once_at_the_note(tmp_path: Path) -> None:
    broken = code_note("broken", "def f(:\n    pass\n", [case("any", 9, 1, expect=1)])
    missing = code_note("missing", "def g(x):\n    return x\n", [case("any", 29, 1, expect=1)])

    failures = run(tmp_path, broken, missing).failures

    assert [failure.location for failure in failures] == [at(1), at(1)]
    assert "SyntaxError" in failures[0].report
    assert "the code defines no function named f" in failures[1].report


def test_a_test_value_that_cannot_reach_the_answer_is_reported(tmp_path: Path) -> None:
    note = code_note("dated", MEAN, [case("a date", 9, datetime.date(2024, 1, 1), expect=0)])

    verification = run(tmp_path, note)

    (failure,) = verification.failures
    assert failure.report.startswith(
        "source/code.yaml:3: dated: a test value cannot be passed to the answer"
    )
    assert verification.ran == 0


def test_an_unchanged_answer_is_not_run_again(tmp_path: Path) -> None:
    notes = [
        code_note("one", MEAN, [case("a", 9, [1.0], expect=1.0)]),
        code_note("two", MEAN, [case("b", 29, [2.0], expect=2.0)], line=27),
    ]
    first = run(tmp_path, *notes)

    second = run(tmp_path, *notes)

    assert (first.ran, first.cached) == (2, 0)
    assert (second.ran, second.cached) == (0, 2)
    assert second.evidence == first.evidence


def test_changing_a_test_runs_that_note_again_and_only_that_one(tmp_path: Path) -> None:
    one = code_note("one", MEAN, [case("a", 9, [1.0], expect=1.0)])
    two = code_note("two", MEAN, [case("b", 29, [2.0], expect=2.0)], line=27)
    run(tmp_path, one, two)
    assert two.tests is not None
    changed = replace(two, tests=replace(two.tests, cases=(case("b", 29, [2.0, 4.0], expect=3.0),)))

    again = run(tmp_path, one, changed)

    assert (again.ran, again.cached) == (1, 1)
    assert set(again.evidence) == {"one", "two"}


def test_a_one_byte_change_to_the_code_is_verified_again(tmp_path: Path) -> None:
    note = code_note("mean", MEAN, [case("a", 9, [1.0], expect=1.0)])
    run(tmp_path, note)
    assert note.code is not None

    again = run(tmp_path, replace(note, code=note.code + " "))

    assert again.ran == 1


def test_moving_a_note_in_its_file_keeps_its_verdict(tmp_path: Path) -> None:
    note = code_note("mean", MEAN, [case("a", 9, [1.0], expect=1.0)])
    run(tmp_path, note)
    moved = code_note("mean", MEAN, [case("a", 19, [1.0], expect=1.0)], line=11)

    assert run(tmp_path, moved).cached == 1


def test_a_failing_answer_is_run_and_reported_again_each_time(tmp_path: Path) -> None:
    note = code_note("mean", MEAN, [case("wrong", 9, [1.0], expect=2.0)])

    first, second = run(tmp_path, note), run(tmp_path, note)

    assert (first.ran, second.ran) == (1, 1)
    assert second.failures == first.failures


def test_progress_counts_every_code_note_and_only_code_notes(tmp_path: Path) -> None:
    cached = code_note("cached", MEAN, [case("a", 9, [1.0], expect=1.0)])
    run(tmp_path, cached)
    fresh = code_note("fresh", MEAN, [case("b", 29, [2.0], expect=2.0)], line=27)
    concept = Note(id="concept", location=at(40), deck="D", kind="basic", front="Q", back="A")
    seen: list[tuple[int, int]] = []

    verification = run(
        tmp_path, cached, concept, fresh, on_progress=lambda done, total: seen.append((done, total))
    )

    assert seen == [(1, 2), (2, 2)]
    assert (verification.ran, verification.cached, verification.cases) == (1, 1, 2)
