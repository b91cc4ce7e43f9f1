/*
 * DOM helpers of the playground. Nothing from a request, a response or a card is parsed as
 * HTML here: every node is built with createElement/createTextNode, so text is escaped by
 * construction. (Card Markdown goes through markdown.js, which sanitises.)
 */

/** el("a", {class: "x", href: "...", text: "label", testid: "t"}, [children]) */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  const options = attrs || {};
  Object.keys(options).forEach(function (key) {
    const value = options[key];
    if (value === undefined || value === null || value === false) return;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key === "testid") node.setAttribute("data-testid", value);
    else node.setAttribute(key, value === true ? "" : String(value));
  });
  appendAll(node, children);
  return node;
}

export function appendAll(parent, children) {
  (children || []).forEach(function (child) {
    if (child === null || child === undefined) return;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  });
  return parent;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** The URL if it is an absolute http(s) URL, else null: no javascript:, data:, etc. */
export function safeUrl(raw) {
  if (typeof raw !== "string") return null;
  try {
    const url = new URL(raw.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.toString() : null;
  } catch (_error) {
    return null;
  }
}

export function externalLink(href, children, attrs) {
  const options = Object.assign({ href: href, target: "_blank", rel: "noopener noreferrer" }, attrs);
  return el("a", options, children);
}

export function byId(id) {
  return document.getElementById(id);
}
