"""Preview: every card of a deck as a static web page, to browse before importing the deck.

Each side of each card is its own page holding exactly what Anki shows: the note type's
template filled in (`builder.templates.cards`), inside `<body class="card cardN"><div id="qa">`,
styled by the note type's CSS. A page turns to night mode as Anki does, with `nightMode
night_mode` on the body, when its address ends in `#night`. Formulas are typeset by a MathJax
copied into the folder when one is installed (the `mathjax` package of django-static-mathjax),
never fetched from the network; without it they show as their `\\(...\\)` source.

    out_dir/index.html                   the card list: search by text and tag, day/night switch
    out_dir/cards/<id>.<n>.question.html one page per card side
    out_dir/cards/<id>.<n>.answer.html
    out_dir/cards/card.css, *.png        the note type's CSS and the deck's media
    out_dir/cards/mathjax.js             MathJax, when installed
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from builder.notetypes import card_css
from builder.render import RenderedNote
from builder.templates import Card, cards

CARDS = "cards"
MATHJAX = "mathjax.js"
# The single-file MathJax 3 build that needs no font files beside it (it draws glyphs as SVG).
_MATHJAX_SOURCE = ("mathjax", "static/mathjax/es5/tex-svg.js")
_HAS_MATH = re.compile(r"\\\(|\\\[")
_BREAK = re.compile(r"<(?:br|hr|/(?:p|div|li|h\d|pre|td|th|tr))\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_MATH_DELIMITER = re.compile(r"\\[()[\]]")


@dataclass(frozen=True)
class PreviewCard:
    """One card in the preview: its pages (relative to the preview folder) and what finds it."""

    note_id: str
    ordinal: int
    deck: str
    tags: tuple[str, ...]
    question: Path
    answer: Path


@dataclass(frozen=True)
class Preview:
    """What was written: the index page, every card, how many media files, and whether
    formulas are typeset (a MathJax was installed to copy) or shown as their TeX source."""

    index: Path
    cards: tuple[PreviewCard, ...]
    media: int
    mathjax: bool


def preview(notes: Sequence[RenderedNote], *, out_dir: Path, title: str) -> Preview:
    """Writes a page per side of every card of `notes`, their media, and an index titled
    `title`, in `out_dir`.

    `out_dir/index.html` and `out_dir/cards/` are replaced; nothing else in `out_dir` is
    touched. The pages need no network: open `index.html` in a browser.
    """
    folder = out_dir / CARDS
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "card.css").write_text(card_css(), encoding="utf-8")
    mathjax = _copy_mathjax(folder / MATHJAX)
    media = {m.name: m.path for note in notes for m in note.media}
    for name, path in sorted(media.items()):
        shutil.copyfile(path, folder / name)
    written = []
    rows = []
    for note in notes:
        made = cards(note)
        for card in made:
            pages = _write_card(card, folder, mathjax=mathjax)
            written.append(PreviewCard(note.id, card.ordinal, note.deck, note.tags, *pages))
            rows.append(_row(written[-1], card, numbered=len(made) > 1))
    first = written[0].question.as_posix() if written else "about:blank"
    index = out_dir / "index.html"
    index.write_text(_index_page(title, rows, first), encoding="utf-8")
    return Preview(index, tuple(written), len(media), mathjax)


def _copy_mathjax(target: Path) -> bool:
    package, name = _MATHJAX_SOURCE
    try:
        script = resources.files(package).joinpath(name)
    except ModuleNotFoundError:
        return False
    if not script.is_file():
        return False
    target.write_bytes(script.read_bytes())
    return True


def _write_card(card: Card, folder: Path, *, mathjax: bool) -> tuple[Path, Path]:
    pages = []
    for side, body in (("question", card.question), ("answer", card.answer)):
        name = f"{card.note_id}.{card.ordinal}.{side}.html"
        page = _card_page(f"{card.note_id} ({card.ordinal}): {side}", card.ordinal, body, mathjax)
        (folder / name).write_text(page, encoding="utf-8")
        pages.append(Path(CARDS) / name)
    return pages[0], pages[1]


# Anki's own MathJax settings: only \(...\) and \[...\], no $ and no environments outside math.
# Without `noundefined` a misspelt command is an error the browser tests catch, not red text.
_MATHJAX_CONFIG = """<script>
window.MathJax = {
  tex: {inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]],
        processEscapes: false, processEnvironments: false, packages: {"[-]": ["noundefined"]}},
  svg: {fontCache: "local"}
};
</script>
<script src="mathjax.js" defer></script>
"""

# Night mode as Anki turns it on: both class names on the body, before the card is drawn.
_NIGHT_SWITCH = """<script>
function applyMode() {
  var night = location.hash === "#night";
  document.body.classList.toggle("nightMode", night);
  document.body.classList.toggle("night_mode", night);
}
applyMode();
addEventListener("hashchange", applyMode);
</script>"""


def _card_page(title: str, ordinal: int, body: str, mathjax: bool) -> str:
    math = _MATHJAX_CONFIG if mathjax and _HAS_MATH.search(body) else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="card.css">
{math}</head>
<body class="card card{ordinal}">
{_NIGHT_SWITCH}
<div id="qa">
{body}
</div>
</body>
</html>
"""


def _plain(fragment: str) -> str:
    """The text of an HTML fragment on one line, formulas as their TeX, for the index."""
    text = _TAG.sub("", _BREAK.sub(" ", fragment))
    return " ".join(_MATH_DELIMITER.sub("", html.unescape(text)).split())


def _row(entry: PreviewCard, card: Card, *, numbered: bool) -> str:
    question = _plain(card.question)
    shown = question if len(question) <= 160 else question[:159] + "…"
    searched = f"{entry.note_id} {_plain(card.answer)}".lower()
    tags = "".join(
        f'<button type="button" class="tag">{html.escape(tag)}</button>' for tag in entry.tags
    )
    number = f" (card {entry.ordinal})" if numbered else ""
    return (
        f'<li data-text="{html.escape(searched)}" data-tags="{html.escape(" ".join(entry.tags))}">'
        f'<a class="question" href="{entry.question.as_posix()}" target="card">'
        f"{html.escape(shown)}</a>"
        f'<span class="meta"><a class="answer" href="{entry.answer.as_posix()}" target="card">'
        f"answer</a> · {html.escape(entry.note_id)}{number} · {html.escape(entry.deck)}</span>"
        f'<span class="tags">{tags}</span></li>'
    )


_INDEX_STYLE = """
:root { color-scheme: light; --fg: #1b1b1f; --bg: #ffffff; --muted: #55555f; --line: #d8d8e0;
        --link: #0b57d0; --chip: #eef0f6; }
body.night { color-scheme: dark; --fg: #e6e6e9; --bg: #1a1a1e; --muted: #b0b0bb; --line: #3a3a44;
        --link: #8ab4f8; --chip: #2c2c33; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial,
       sans-serif; color: var(--fg); background: var(--bg); }
header { position: sticky; top: 0; z-index: 1; display: flex; flex-wrap: wrap; gap: 8px 12px;
         align-items: center; padding: 10px 14px; background: var(--bg);
         border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
input[type=search] { flex: 1 1 14em; min-width: 0; font: inherit; padding: 6px 8px;
                     color: var(--fg); background: var(--bg); border: 1px solid var(--line);
                     border-radius: 6px; }
button { font: inherit; color: var(--fg); background: var(--chip); border: 1px solid var(--line);
         border-radius: 6px; padding: 4px 10px; cursor: pointer; }
#count { color: var(--muted); }
main { display: flex; align-items: flex-start; gap: 16px; padding: 0 14px; }
ol { flex: 1 1 auto; min-width: 0; list-style: none; margin: 0; padding: 0; }
li { padding: 10px 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
li.current { background: var(--chip); }
li[hidden] { display: none; }
a { color: var(--link); }
a.question { display: block; color: var(--fg); text-decoration: none; }
.meta { display: block; font-size: 14px; color: var(--muted); }
.tags button { font-size: 13px; padding: 0 6px; margin: 4px 4px 0 0; }
aside { position: sticky; top: 64px; flex: 0 0 auto; padding-top: 10px; }
aside p { margin: 6px 0; display: flex; gap: 8px; }
iframe { width: 360px; height: 640px; border: 1px solid var(--line); border-radius: 12px;
         background: var(--bg); }
@media (max-width: 760px) {
  main { flex-direction: column-reverse; }
  aside { position: static; width: 100%; }
  iframe { width: 100%; height: 70vh; }
}
"""

_INDEX_SCRIPT = """
const list = [...document.querySelectorAll("#cards li")];
const search = document.getElementById("search");
const count = document.getElementById("count");
const frame = document.querySelector("iframe");
const modeButton = document.getElementById("mode");
let night = localStorage.getItem("deckbuild-preview-night") === "1";
let current = null;
let side = "question";

function filter() {
  const terms = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const item of list) {
    const tags = item.dataset.tags.toLowerCase().split(" ");
    const ok = terms.every(term => term.startsWith("tag:")
      ? tags.some(tag => tag === term.slice(4) || tag.startsWith(term.slice(4) + "::"))
      : item.dataset.text.includes(term));
    item.hidden = !ok;
    shown += ok;
  }
  count.textContent = `${shown} of ${list.length} cards`;
}

function show(item, which) {
  if (current) current.classList.remove("current");
  current = item;
  side = which;
  item.classList.add("current");
  const link = item.querySelector(which === "answer" ? "a.answer" : "a.question");
  frame.src = link.getAttribute("href") + (night ? "#night" : "");
}

function setMode(value) {
  night = value;
  localStorage.setItem("deckbuild-preview-night", night ? "1" : "0");
  document.body.classList.toggle("night", night);
  modeButton.textContent = night ? "Day" : "Night";
  if (current) show(current, side);
}

document.getElementById("cards").addEventListener("click", event => {
  const item = event.target.closest("li");
  if (event.target.matches("button.tag")) {
    search.value = (search.value.trim() + " tag:" + event.target.textContent).trim();
    filter();
  } else if (event.target.matches("a")) {
    event.preventDefault();
    show(item, event.target.matches("a.answer") ? "answer" : "question");
  }
});
document.getElementById("flip").addEventListener("click", () => {
  if (current) show(current, side === "question" ? "answer" : "question");
});
document.getElementById("next").addEventListener("click", () => {
  const visible = list.filter(item => !item.hidden);
  const next = visible[visible.indexOf(current) + 1] || visible[0];
  if (next) { show(next, "question"); next.scrollIntoView({block: "nearest"}); }
});
modeButton.addEventListener("click", () => setMode(!night));
search.addEventListener("input", filter);
filter();
setMode(night);
if (list.length) show(list[0], "question");
"""


def _index_page(title: str, rows: Sequence[str], first: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: card preview</title>
<style>{_INDEX_STYLE}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<input id="search" type="search" placeholder="Search text, or tag:topic::detection"
       aria-label="Search cards">
<button id="mode" type="button">Night</button>
<span id="count">{len(rows)} cards</span>
</header>
<main>
<ol id="cards">
{chr(10).join(rows)}
</ol>
<aside>
<iframe name="card" title="The card as Anki shows it" src="{first}"></iframe>
<p><button id="flip" type="button">Question / answer</button>
<button id="next" type="button">Next card</button></p>
</aside>
</main>
<script>{_INDEX_SCRIPT}</script>
</body>
</html>
"""
