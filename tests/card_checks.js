// Checks one side of a card as the page shows it now, in the page itself. Called with the mode
// the page is in ("day" or "night"; the caller turns it on, as its engine does) and the path to
// the card's root (`#qa`). Returns {problems: [[kind, message]], code: [copied text of each
// answer code block], codeLines: how many lines of code were checked}. Kinds: mode, sideways,
// image, figure, contrast, size, math, source, code, measure, blowup.
async (mode) => {
  const problems = [];
  const problem = (kind, message) => problems.push([kind, message]);

  const night = document.body.classList.contains("nightMode");
  if (night !== (mode === "night") || night !== document.body.classList.contains("night_mode")) {
    problem("mode", `asked for ${mode} mode, the body's classes are "${document.body.className}"`);
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }

  const screen = window.innerWidth;
  const phone = screen < 600; // the card CSS wraps code below this width
  const root = document.documentElement;
  if (root.scrollWidth > screen) {
    problem("sideways", `the page is ${root.scrollWidth} px wide on a ${screen} px screen`);
  }

  const visible = (element) => {
    const style = getComputedStyle(element);
    return style.visibility === "visible" && element.getClientRects().length > 0;
  };
  const describe = (element, text) => {
    const cls = String(element.getAttribute("class") || "").split(" ")[0];
    return `"${text.replace(/\s+/g, " ").slice(0, 40)}" (${element.localName}${cls ? "." + cls : ""})`;
  };

  for (const image of document.images) {
    const name = image.getAttribute("src");
    const box = image.getBoundingClientRect();
    const shown = visible(image) && box.width > 0;
    if (shown && (!image.complete || image.naturalWidth === 0)) {
      problem("image", `image ${name} did not load`);
    }
    if (shown && box.width > screen) {
      problem("image", `image ${name} is ${Math.round(box.width)} px wide on a ${screen} px screen`);
    }
    // A figure is drawn for a phone at twice its pixels: wider than its own pixels, it blurs.
    if (shown && image.naturalWidth > 0 && box.width > image.naturalWidth + 0.5) {
      problem("blowup", `image ${name} is shown ${Math.round(box.width)} px wide, ` +
        `past its natural ${image.naturalWidth} px`);
    }
    if (image.classList.contains("figure")) {
      const wanted = image.classList.contains(night ? "figure-dark" : "figure-light");
      if (shown !== wanted) {
        problem("figure", `${mode} mode ${shown ? "shows" : "hides"} figure ${name}`);
      }
    }
  }

  // WCAG 2 contrast: relative luminance of the text colour against the background it is drawn
  // on, the first opaque background-color up the tree with any translucent ones laid over it.
  const rgba = (text) => {
    const match = text.match(/rgba?\(([^)]*)\)/);
    if (!match) return [0, 0, 0, 0];
    const parts = match[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const background = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const colour = rgba(getComputedStyle(e).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] >= 1) break;
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const luminance = (colour) => {
    const [r, g, b] = colour.slice(0, 3).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const hex = (colour) =>
    "#" + colour.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");

  const seen = new Set();
  const checkText = (element, text) => {
    if (seen.has(element) || !visible(element)) return;
    seen.add(element);
    const style = getComputedStyle(element);
    const behind = background(element);
    const colour = over(rgba(style.color), behind);
    const ratio = contrast(colour, behind);
    if (ratio < 4.5) {
      problem("contrast", `${describe(element, text)} has contrast ${ratio.toFixed(2)}:1, ` +
        `${hex(colour)} on ${hex(behind)}`);
    }
    const size = parseFloat(style.fontSize);
    if (size < 14) problem("size", `${describe(element, text)} is ${size} px`);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    const text = node.textContent.trim();
    // MathJax keeps a 1 px copy of each formula for screen readers: not drawn.
    if (!text || element.closest("script, style, mjx-assistive-mml")) continue;
    checkText(element, text);
    if (/\\\(|\\\[/.test(text) && window.MathJax) {
      problem("math", `formula left as TeX source: ${describe(element, text)}`);
    }
  }
  // MathJax draws formulas as SVG in the text colour: check them like text.
  for (const formula of document.querySelectorAll("mjx-container")) {
    checkText(formula, formula.querySelector("mjx-assistive-mml")?.textContent || "formula");
  }
  for (const error of document.querySelectorAll("mjx-merror, [data-mjx-error]")) {
    problem("math", `MathJax cannot typeset a formula: ${error.getAttribute("data-mjx-error") || error.textContent}`);
  }

  // The line naming a note's sources is checked for contrast and size with all text above;
  // it must also be there to read: shown, and within the screen.
  for (const line of document.querySelectorAll(".source")) {
    const box = line.getBoundingClientRect();
    if (!visible(line) || box.width === 0 || box.right > screen) {
      problem("source", `the source line ${describe(line, line.textContent)} is not shown in full`);
    }
  }

  // Code on a phone: no line may run past the edge of its block, where it would be hidden or
  // need scrolling sideways line by line (issue #20). On a wide screen lines keep their shape.
  let codeLines = 0;
  for (const block of document.querySelectorAll(".highlight pre")) {
    if (!visible(block)) continue;
    const lines = block.querySelectorAll(".line");
    codeLines += lines.length;
    if (!phone) continue;
    for (const line of lines) {
      if (line.scrollWidth > line.clientWidth + 1) {
        problem("code", `code line ${describe(line, line.textContent)} is ${line.scrollWidth} px ` +
          `wide in a ${line.clientWidth} px block`);
      }
    }
    if (block.scrollWidth > block.clientWidth + 1) {
      problem("code", `a code block scrolls sideways: ${block.scrollWidth} px in ${block.clientWidth} px`);
    }
  }
  // What a reader copies from the answer's code block, to compare with the verified code.
  const code = [];
  for (const block of document.querySelectorAll(".code .highlight pre")) {
    const selection = getSelection();
    selection.selectAllChildren(block);
    code.push(selection.toString());
    selection.removeAllRanges();
  }

  // Prose wider than a comfortable measure is hard to read: at most 80 characters a line
  // (WCAG 2.1, 1.4.8 Visual Presentation). Lines are measured as laid out, in characters of
  // the element's own font.
  const charWidth = new Map();
  const averageChar = (style) => {
    const font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    if (!charWidth.has(font)) {
      const sample = "the quick brown fox jumps over the lazy dog, and then some more prose to read.";
      const context = document.createElement("canvas").getContext("2d");
      context.font = font;
      charWidth.set(font, context.measureText(sample).width / sample.length);
    }
    return charWidth.get(font);
  };
  const blocks = "p, li, td, th, .source, .front, .back, .extra";
  const apart = `${blocks}, pre, table, mjx-container, mjx-assistive-mml`;
  for (const block of document.querySelectorAll(blocks)) {
    if (!visible(block) || block.closest("pre, table")) continue;
    // The block's own text (not its paragraphs', code's or formulas'), one extent per line:
    // inline code and formulas split a line into several boxes around one middle.
    const lines = new Map();
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || node.parentElement.closest(apart) !== block) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) {
        if (rect.width === 0) continue;
        const line = Math.round((rect.top + rect.bottom) / 2 / 8);
        const [left, right] = lines.get(line) || [rect.left, rect.right];
        lines.set(line, [Math.min(left, rect.left), Math.max(right, rect.right)]);
      }
    }
    let widest = 0;
    for (const [left, right] of lines.values()) widest = Math.max(widest, right - left);
    const characters = widest / averageChar(getComputedStyle(block));
    if (characters > 80) {
      problem("measure", `${describe(block, block.textContent)} runs ${Math.round(characters)} ` +
        `characters a line`);
    }
  }

  const body = parseFloat(getComputedStyle(document.body).fontSize);
  if (body < 16) problem("size", `the card's text is ${body} px; a phone needs at least 16 px`);
  return {problems, code, codeLines};
}
