"""The deck's own notes, held to the part of docs/CONTENT standard a machine can check.

Runs over every note in source/, whoever wrote it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from builder.load import RETIRED_TAG, load
from builder.notes import Note
from builder.pipeline import Request, run
from builder.render import markdown_to_html
from tests.conftest import REPO

QUESTIONS = REPO.parent / "shared" / "seeds" / "questions.yaml"

# The agreed topic tree (see docs/source-format.md). Add a branch here, deliberately, before
# using it in a note.
TOPICS = {
    "ml": "paradigms bias-variance regularization validation ensembles dimensionality imbalance "
    "statistics encoding metrics calibration",
    "dl": "basics activations losses optimization backprop initialization normalization "
    "regularization augmentation transfer training data adaptation",
    "cnn": "convolution pooling receptive-field architectures interpretability",
    "classification": "",
    "detection": "iou nms anchors architectures metrics transformers real-time open-vocabulary",
    "segmentation": "promptable universal",
    "vision": "tracking optical-flow ocr embeddings retrieval registration 3d robustness "
    "multimodal transformers "
    "camera two-view features depth neural-rendering video pose",
    "sequence": "rnn attention transformers",
    "generative": "gan autoencoders diffusion evaluation",
    "learning": "self-supervised few-shot active multi-task reinforcement distillation",
    "deployment": "compression quantization distributed hardware frameworks mlops edge ethics",
    "system-design": "",
    "image-processing": "",
    "algorithms": "",
}
TOPIC_TAGS = {f"topic::{root}" for root in TOPICS} | {
    f"topic::{root}::{leaf}" for root, leaves in TOPICS.items() for leaf in leaves.split()
}
KINDS = {"kind::concept", "kind::compare", "kind::formula", "kind::code", "kind::figure"}
KINDS |= {"kind::cloze"}

LOADED = load(REPO)
NOTES = LOADED.notes


def describe(note: Note) -> str:
    return f"{note.location}: {note.id}"


def test_the_deck_loads_without_problems() -> None:
    assert [str(p) for p in LOADED.problems] == []
    assert len(NOTES) >= 25


def test_every_note_has_one_topic_from_the_tree_one_level_and_a_kind() -> None:
    wrong = []
    for note in NOTES:
        topics = [t for t in note.tags if t.startswith("topic::")]
        levels = [t for t in note.tags if t.startswith("level::")]
        kinds = [t for t in note.tags if t.startswith("kind::")]
        if len(topics) != 1 or topics[0] not in TOPIC_TAGS:
            wrong.append(f"{describe(note)}: topic tags {topics}")
        if len(levels) != 1:
            wrong.append(f"{describe(note)}: level tags {levels}")
        if not kinds or not set(kinds) <= KINDS:
            wrong.append(f"{describe(note)}: kind tags {kinds}")
    assert wrong == []


def normalized(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def test_no_two_notes_ask_the_same_question() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for note in NOTES:
        if RETIRED_TAG not in note.tags:  # retired notes all carry the same notice
            seen[normalized(note.front or note.cloze)].append(describe(note))
    assert [places for places in seen.values() if len(places) > 1] == []


def test_backs_are_short_unless_the_note_says_why() -> None:
    # Run strict: the warnings `deckbuild check` prints are errors for the deck itself.
    assert [str(w) for w in LOADED.warnings if "the back has" in w.message] == []


def test_every_formula_reaches_mathjax() -> None:
    # A `$` left in a rendered field, outside code, is a formula Markdown did not hand to
    # MathJax: the card shows its TeX source. Three notes did, their formulas wrapped over a
    # line break or glued to a word (CHAIR$_i$).
    code = re.compile(r"<code>.*?</code>|<div class=\"highlight\">.*?</div>", re.DOTALL)
    raw = [
        f"{describe(note)} ({name})"
        for note in NOTES
        for name, text in (("front", note.front), ("back", note.back), ("cloze", note.cloze))
        if "$" in code.sub("", markdown_to_html(text))
    ]
    assert raw == []


def test_every_live_note_names_the_sources_it_was_checked_against() -> None:
    assert [str(w) for w in LOADED.warnings if "'sources'" in w.message] == []


def test_every_warning_is_one_the_tests_above_hold_to() -> None:
    kinds = ("the back has", "'sources'")
    assert [str(w) for w in LOADED.warnings if not any(k in w.message for k in kinds)] == []


def test_code_notes_are_tagged_kind_code() -> None:
    assert [describe(n) for n in NOTES if n.code and "kind::code" not in n.tags] == []


@pytest.mark.skipif(not QUESTIONS.exists(), reason="needs ../shared/seeds beside the checkout")
def test_every_ref_names_a_seed_question() -> None:
    known = {q["id"] for q in yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))}
    unknown = [f"{describe(n)}: {r}" for n in NOTES for r in n.refs if r not in known]
    assert unknown == []


def test_every_figure_a_note_names_has_a_script() -> None:
    scripts = {p.stem for p in Path(REPO / "figures").glob("*.py")}
    assert [describe(n) for n in NOTES if n.figure and n.figure not in scripts] == []


def test_the_deck_passes_check_strict(built_repo: Path) -> None:
    # What `deckbuild check --strict` says of the deck: warnings are errors for its own notes.
    result = run(Request(built_repo, until="check", strict=True))
    assert [str(p) for p in result.problems] == []
    assert result.status == 0
