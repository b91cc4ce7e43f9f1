/*
 * Card `detail` Markdown → a sanitised DocumentFragment, with the vendored markdown-it and
 * DOMPurify (vendor/README.md; loaded as classic scripts before this module).
 *
 * Two layers: markdown-it runs with `html: false`, so raw HTML in a card is shown as text, and
 * DOMPurify then keeps only the tags and attributes below. Links must be http(s); they open in
 * a new tab. No style attributes are made: the page's CSP forbids inline styles.
 */
import { el } from "./dom.js";

const ALLOWED_TAGS = [
  "p", "br", "strong", "em", "s", "code", "pre", "a", "ul", "ol", "li", "blockquote", "hr",
  "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
];
const ALLOWED_ATTR = ["href", "class", "start"];
const HTTP_ONLY = /^https?:\/\//i;

let renderer = null;

function layoutRule(state) {
  state.tokens.forEach(function (token) {
    // Card headings sit below the card summary (h3): "#" becomes h4.
    if (token.type === "heading_open" || token.type === "heading_close") {
      token.tag = "h" + Math.min(6, Number(token.tag.slice(1)) + 3);
    }
    // Table alignment as a class instead of markdown-it's style attribute.
    if (token.type === "th_open" || token.type === "td_open") {
      const style = token.attrGet("style") || "";
      const align = /text-align:\s*(left|center|right)/.exec(style);
      token.attrs = (token.attrs || []).filter(function (attr) { return attr[0] !== "style"; });
      if (align) token.attrSet("class", "align-" + align[1]);
    }
  });
}

function markdownIt() {
  if (renderer === null) {
    renderer = window.markdownit({ html: false, linkify: true, typographer: false });
    renderer.linkify.set({ fuzzyEmail: false }); // no mailto: links
    renderer.disable(["image"]); // the CSP loads no outside images anyway
    renderer.core.ruler.push("playground_layout", layoutRule);
  }
  return renderer;
}

/** Links open in a new tab; a link whose href did not survive becomes its text. */
function finishLinks(fragment) {
  fragment.querySelectorAll("a").forEach(function (link) {
    const href = link.getAttribute("href") || "";
    if (!HTTP_ONLY.test(href)) {
      link.replaceWith.apply(link, Array.from(link.childNodes));
      return;
    }
    link.setAttribute("target", "_blank");
    link.setAttribute("rel", "noopener noreferrer");
  });
}

function wrapTables(fragment) {
  fragment.querySelectorAll("table").forEach(function (table) {
    const wrap = el("div", { class: "table-wrap" });
    table.replaceWith(wrap);
    wrap.appendChild(table);
  });
}

/** Markdown → DocumentFragment of sanitised nodes. */
export function renderMarkdown(source) {
  const text = source === undefined || source === null ? "" : String(source);
  const html = markdownIt().render(text);
  const fragment = window.DOMPurify.sanitize(html, {
    ALLOWED_TAGS: ALLOWED_TAGS,
    ALLOWED_ATTR: ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: HTTP_ONLY,
    RETURN_DOM_FRAGMENT: true,
  });
  finishLinks(fragment);
  wrapTables(fragment);
  return fragment;
}
