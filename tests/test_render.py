"""Rendering: Markdown to card HTML, with code for CSS highlighting and math for MathJax."""

from __future__ import annotations

import html
import re
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from builder.render import code_to_html, markdown_to_html, render
from tests.conftest import note


def test_inline_and_display_math_reach_mathjax_untouched_by_markdown() -> None:
    rendered = markdown_to_html("IoU is $a_i * b_i$ here.\n\n$$x_1 < y_2$$")
    assert r"\(a_i * b_i\)" in rendered
    assert r"\[x_1 &lt; y_2\]" in rendered
    assert "<em>" not in rendered and "$" not in rendered


def test_dollars_that_are_not_math_stay_dollars() -> None:
    rendered = markdown_to_html("It costs $5 or $6, and `echo $HOME` prints a path.")
    assert "$5 or $6" in rendered
    assert "<code>echo $HOME</code>" in rendered
    assert r"\(" not in rendered


def test_a_formula_may_run_over_a_line_break_but_not_into_a_new_paragraph() -> None:
    wrapped = markdown_to_html("Then $w \\leftarrow w -\n\\eta v^*$ and $a^*$.")
    assert "Then \\(w \\leftarrow w -\n\\eta v^*\\) and \\(a^*\\)." in wrapped
    assert "$" not in wrapped and "<em>" not in wrapped

    paragraphs = markdown_to_html("It costs $x\n\ny$ in all.")
    assert paragraphs == "<p>It costs $x</p>\n<p>y$ in all.</p>"


def test_fenced_code_is_highlighted_with_css_classes_not_inline_styles() -> None:
    rendered = markdown_to_html("```text\nfor box in boxes: keep(box)\n```")
    assert '<div class="highlight">' in rendered
    # The one inline style is each line's hanging indent: layout, never a colour, which night
    # mode could not restyle.
    assert re.findall(r'style="([^"]*)"', rendered) == ["padding-left:4ch;text-indent:-4ch"]


def test_each_line_of_code_wraps_indented_past_its_own_start() -> None:
    code = 'def f(x):\n    if x:\n        return "a long line"\n'
    rendered = code_to_html(code)
    hangs = re.findall(r"padding-left:(\d+)ch;text-indent:-(\d+)ch", rendered)
    assert hangs == [("4", "4"), ("8", "8"), ("12", "12")]
    (block,) = re.findall(r"<pre>(.*)</pre>", rendered, re.DOTALL)
    assert html.unescape(re.sub(r"<[^>]+>", "", block)) == code


def test_tables_render() -> None:
    rendered = markdown_to_html("| metric | value |\n|---|---|\n| IoU | 0.5 |")
    assert "<table>" in rendered and "<td>IoU</td>" in rendered


def test_the_code_on_the_card_is_exactly_the_code_that_was_verified() -> None:
    code = "def f(x):\n    return x < 1 and x > -1  # keep <this>\n"
    rendered = code_to_html(code)
    (inside_pre,) = re.findall(r"<pre>(.*)</pre>", rendered, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", "", inside_pre))
    assert text == code
    assert 'class="k"' in rendered  # keywords carry a class the night palette restyles


def test_an_image_that_is_not_in_the_media_folder_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "pixel.png").write_bytes(b"\x89PNG")
    result = render(
        [note(back="![a](pixel.png) and ![b](missing.png)")],
        evidence={},
        figures={},
        media_dir=tmp_path,
    )
    assert [m.name for m in result.notes[0].media] == ["pixel.png"]
    assert [str(p) for p in result.problems] == [
        f"source/a.yaml:3: n: image 'missing.png' is not in {tmp_path}"
    ]


def test_a_cloze_note_keeps_its_deletions_in_the_front_field() -> None:
    (rendered,) = render(
        [note(kind="cloze", front="", back="", cloze="NMS uses {{c1::IoU}}.")],
        evidence={},
        figures={},
    ).notes
    assert "{{c1::IoU}}" in rendered.front
    assert rendered.back == ""


def test_sources_become_one_escaped_line_on_the_back() -> None:
    sources = ("He et al. 2016, Deep Residual Learning, §3.3", "Docs <v2> & co")
    (one, two, none) = render(
        [note(sources=sources[:1]), note("m", sources=sources), note("k")],
        evidence={},
        figures={},
    ).notes
    assert one.sources == (
        '<div class="source">Source: He et al. 2016, Deep Residual Learning, §3.3</div>'
    )
    assert two.sources.endswith(
        "Sources: He et al. 2016, Deep Residual Learning, §3.3 · Docs &lt;v2&gt; &amp; co</div>"
    )
    assert none.sources == ""
    assert "Source" not in one.front + one.back


def test_text_that_looks_like_an_internal_placeholder_stays_text() -> None:
    # Once, formulas waited in the text as MATHPLACEHOLDER<n>X: a note saying so crashed the
    # build (no formula 99) or turned into someone else's formula.
    rendered = markdown_to_html("See MATHPLACEHOLDER0X and MATHPLACEHOLDER99X, then $x$.")
    assert "See MATHPLACEHOLDER0X and MATHPLACEHOLDER99X, then \\(x\\)." in rendered
    stash = markdown_to_html("A \x02wzxhzdk:0\x03 B $y$")  # Markdown's own, with its markers
    assert "\\(y\\)" in stash and stash.count("\\(") == 1


PLAIN = st.text(alphabet="abcXYZ019 .,;:!?*_#-+=()[]{}|'\"/%", max_size=20)
TEX = (
    st.text(alphabet="abxyz019 _^{}+-*/=<>&|,()\\", min_size=1, max_size=20)
    .map(str.strip)
    .filter(lambda tex: tex != "" and not tex.endswith("\\"))
)
CODE = st.text(alphabet="abxy019 $*_<>&=+-()[]{}\\", min_size=1, max_size=20).map(str.strip)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_renders(text: str) -> None:
    rendered = markdown_to_html(text)
    assert "\x02" not in rendered and "\x03" not in rendered


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(PLAIN, TEX, CODE), min_size=1, max_size=4), st.booleans())
# Found by this test in CI: Python-Markdown read `[](` ... `)` as a link and moved the code
# span between them into the link's href.
@example(parts=[("[](", "0", "0"), (")", "0", "00")], display=False)
def test_math_and_code_come_through_intact(
    parts: list[tuple[str, str, str]], display: bool
) -> None:
    text = ""
    for plain, tex, code in parts:
        code = code or "x"
        text += f"{plain} ${tex}$ `{code}` "
    if display:
        text += f"\n\n$$\n{parts[0][1]}\n$$\n"
    rendered = markdown_to_html(text)
    for _, tex, code in parts:
        assert f"\\({html.escape(tex, quote=False)}\\)" in rendered
        assert f"<code>{html.escape(code or 'x', quote=False)}</code>" in rendered
    if display:
        assert f"\\[\n{html.escape(parts[0][1], quote=False)}\n\\]" in rendered


def test_links_and_images_still_work_and_never_swallow_code_or_math() -> None:
    rendered = markdown_to_html(
        "[paper](https://arxiv.org/abs/1512.03385) ![diagram](iou.png) [a](`code`) [b]($x$)"
    )

    assert '<a href="https://arxiv.org/abs/1512.03385">paper</a>' in rendered
    assert '<img alt="diagram" src="iou.png">' in rendered
    assert "[a](<code>code</code>)" in rendered
    assert "[b](\\(x\\))" in rendered
