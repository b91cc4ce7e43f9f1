/*
 * Opioid CDS playground: send a CDS Hooks request to this service, show the cards as a GP
 * would, and send accept/override feedback.
 *
 * Safety: nothing from a request, a response or a card is ever parsed as HTML. Every node is
 * built with createElement/createTextNode (text is escaped by construction), and links are
 * only made for http(s) URLs. The Markdown renderer below covers what card details use:
 * headings, paragraphs, bold/italic/strike-through, inline and fenced code, bullet and
 * numbered lists (nested), block quotes, tables, rules and links.
 */
"use strict";

(function () {
  // The service root, so the page also works behind a path prefix (/cds/playground).
  const BASE = new URL(".", window.location.href);

  function apiUrl(path) {
    return new URL(path, BASE).toString();
  }

  // ---------------------------------------------------------------------------------------
  // DOM helpers
  // ---------------------------------------------------------------------------------------

  /** el("a", {class: "x", href: "...", text: "label", testid: "t"}, [children]) */
  function el(tag, attrs, children) {
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

  function appendAll(parent, children) {
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return parent;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  /** The URL if it is an absolute http(s) URL, else null: no javascript:, data:, etc. */
  function safeUrl(raw) {
    if (typeof raw !== "string") return null;
    try {
      const url = new URL(raw.trim());
      return url.protocol === "http:" || url.protocol === "https:" ? url.toString() : null;
    } catch (_error) {
      return null;
    }
  }

  function externalLink(href, children, attrs) {
    const options = Object.assign({ href: href, target: "_blank", rel: "noopener noreferrer" }, attrs);
    return el("a", options, children);
  }

  // ---------------------------------------------------------------------------------------
  // Markdown (a safe subset of GitHub-flavoured Markdown)
  // ---------------------------------------------------------------------------------------

  const ESCAPABLE = /[\\`*_{}[\]()#+\-.!|~<>]/;
  const WORD = /[A-Za-z0-9\u00C0-\u024F]/;

  function isSpace(ch) {
    return ch === undefined || /\s/.test(ch);
  }

  /** Inline Markdown → array of DOM nodes. */
  function renderInline(text) {
    const out = [];
    let buffer = "";
    const flush = function () {
      if (buffer) out.push(document.createTextNode(buffer));
      buffer = "";
    };
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      const rest = text.slice(i);
      let m;

      if (ch === "\\" && i + 1 < text.length && ESCAPABLE.test(text[i + 1])) {
        buffer += text[i + 1];
        i += 2;
        continue;
      }
      if (ch === "`") {
        let run = 1;
        while (text[i + run] === "`") run += 1;
        const fence = "`".repeat(run);
        const end = text.indexOf(fence, i + run);
        if (end !== -1) {
          flush();
          out.push(el("code", { text: text.slice(i + run, end).replace(/^ (.*) $/, "$1") }));
          i = end + run;
          continue;
        }
        buffer += fence;
        i += run;
        continue;
      }
      if (ch === "[" && (m = /^\[((?:\\.|[^\]\\])*)\]\(\s*<?([^\s)>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/.exec(rest))) {
        flush();
        const href = safeUrl(m[2]);
        const label = renderInline(m[1]);
        if (href) out.push(externalLink(href, label));
        else label.forEach(function (node) { out.push(node); }); // not http(s): text only
        i += m[0].length;
        continue;
      }
      if (ch === "<" && (m = /^<(https?:\/\/[^\s<>]+)>/i.exec(rest))) {
        flush();
        const href = safeUrl(m[1]);
        out.push(href ? externalLink(href, [m[1]]) : document.createTextNode(m[0]));
        i += m[0].length;
        continue;
      }
      if ((ch === "h" || ch === "H") && !WORD.test(text[i - 1] || "") &&
          (m = /^https?:\/\/[^\s<>]+/i.exec(rest))) {
        let url = m[0];
        while (/[.,;:!?*_~'")]$/.test(url)) {
          if (url.endsWith(")") && (url.match(/\(/g) || []).length >= (url.match(/\)/g) || []).length) break;
          url = url.slice(0, -1);
        }
        const href = safeUrl(url);
        if (href) {
          flush();
          out.push(externalLink(href, [url]));
          i += url.length;
          continue;
        }
      }
      if ((ch === "*" || ch === "_" || ch === "~") && text[i + 1] === ch) {
        const marker = ch + ch;
        const end = text.indexOf(marker, i + 2);
        const leftOk = ch !== "_" || !WORD.test(text[i - 1] || "");
        if (end > i + 2 && leftOk && !isSpace(text[i + 2]) && !isSpace(text[end - 1])) {
          flush();
          out.push(el(ch === "~" ? "del" : "strong", {}, renderInline(text.slice(i + 2, end))));
          i = end + 2;
          continue;
        }
      }
      if ((ch === "*" || ch === "_") && !isSpace(text[i + 1]) && text[i + 1] !== ch &&
          (ch !== "_" || !WORD.test(text[i - 1] || ""))) {
        let end = i + 1;
        let found = -1;
        while ((end = text.indexOf(ch, end)) !== -1) {
          const closes = !isSpace(text[end - 1]) && text[end + 1] !== ch &&
            (ch !== "_" || !WORD.test(text[end + 1] || ""));
          if (closes) {
            found = end;
            break;
          }
          end += text[end + 1] === ch ? 2 : 1;
        }
        if (found > i + 1) {
          flush();
          out.push(el("em", {}, renderInline(text.slice(i + 1, found))));
          i = found + 1;
          continue;
        }
      }
      buffer += ch;
      i += 1;
    }
    flush();
    return out;
  }

  const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])(\s+)(.*)$/;
  const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
  const HEADING = /^\s{0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
  const RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
  const QUOTE = /^\s{0,3}>\s?(.*)$/;
  const TABLE_SEPARATOR = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

  function isBlank(line) {
    return /^\s*$/.test(line);
  }

  function indentOf(line) {
    return /^\s*/.exec(line)[0].replace(/\t/g, "    ").length;
  }

  function startsBlock(line) {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
      LIST_ITEM.test(line);
  }

  function splitRow(line) {
    let row = line.trim();
    if (row.startsWith("|")) row = row.slice(1);
    if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
    const cells = [];
    let cell = "";
    for (let i = 0; i < row.length; i += 1) {
      if (row[i] === "\\" && row[i + 1] === "|") {
        cell += "|";
        i += 1;
      } else if (row[i] === "|") {
        cells.push(cell.trim());
        cell = "";
      } else {
        cell += row[i];
      }
    }
    cells.push(cell.trim());
    return cells;
  }

  function paragraph(lines) {
    const p = el("p");
    lines.forEach(function (line, index) {
      const hardBreak = / {2,}$/.test(line) || /\\$/.test(line);
      const content = line.replace(/\\$/, "").trim();
      appendAll(p, renderInline(content));
      if (index < lines.length - 1) p.appendChild(hardBreak ? el("br") : document.createTextNode(" "));
    });
    return p;
  }

  function parseList(lines, start) {
    const first = LIST_ITEM.exec(lines[start]);
    const indent = indentOf(first[1]);
    const ordered = /\d/.test(first[2]);
    const list = el(ordered ? "ol" : "ul");
    if (ordered && parseInt(first[2], 10) !== 1) list.setAttribute("start", String(parseInt(first[2], 10)));
    const items = [];
    let current = null;
    let loose = false;
    let i = start;
    while (i < lines.length) {
      const line = lines[i];
      const m = LIST_ITEM.exec(line);
      if (m && indentOf(m[1]) === indent && /\d/.test(m[2]) === ordered) {
        current = { lines: [m[4]], contentIndent: indent + m[2].length + Math.min(m[3].length, 4) };
        items.push(current);
        i += 1;
        continue;
      }
      if (m && indentOf(m[1]) < indent) break;
      if (isBlank(line)) {
        let j = i + 1;
        while (j < lines.length && isBlank(lines[j])) j += 1;
        if (j < lines.length && indentOf(lines[j]) >= current.contentIndent) {
          current.lines.push("");
          loose = true;
          i += 1;
          continue;
        }
        const next = j < lines.length ? LIST_ITEM.exec(lines[j]) : null;
        if (next && indentOf(next[1]) === indent && /\d/.test(next[2]) === ordered) {
          loose = true;
          i = j;
          continue;
        }
        break;
      }
      if (indentOf(line) >= current.contentIndent || (m && indentOf(m[1]) > indent)) {
        current.lines.push(line.slice(Math.min(indentOf(line), current.contentIndent)));
        i += 1;
        continue;
      }
      if (!startsBlock(line)) {
        current.lines.push(line.trim()); // lazy continuation of the item's paragraph
        i += 1;
        continue;
      }
      break;
    }
    items.forEach(function (item) {
      const li = el("li");
      const body = renderMarkdown(item.lines.join("\n"));
      if (!loose) {
        // tight list: paragraphs are unwrapped into the item
        Array.from(body.childNodes).forEach(function (child) {
          if (child.nodeName === "P") {
            while (child.firstChild) li.appendChild(child.firstChild);
          } else {
            li.appendChild(child);
          }
        });
      } else {
        li.appendChild(body);
      }
      list.appendChild(li);
    });
    return { node: list, next: i };
  }

  /** Markdown → DocumentFragment. Raw HTML in the source is shown as text. */
  function renderMarkdown(source) {
    const lines = String(source === undefined || source === null ? "" : source)
      .replace(/\r\n?/g, "\n")
      .split("\n");
    const fragment = document.createDocumentFragment();
    let para = [];
    const flushParagraph = function () {
      if (para.length) fragment.appendChild(paragraph(para));
      para = [];
    };
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (isBlank(line)) {
        flushParagraph();
        i += 1;
        continue;
      }
      if ((m = FENCE.exec(line))) {
        flushParagraph();
        const fence = m[1];
        const code = [];
        i += 1;
        while (i < lines.length && !new RegExp("^\\s{0,3}" + fence[0] + "{" + fence.length + ",}\\s*$").test(lines[i])) {
          code.push(lines[i]);
          i += 1;
        }
        i += 1; // the closing fence (or the end)
        const codeNode = el("code", { text: code.join("\n") });
        if (m[2]) codeNode.className = "language-" + m[2].replace(/[^\w-]/g, "");
        fragment.appendChild(el("pre", {}, [codeNode]));
        continue;
      }
      if ((m = HEADING.exec(line))) {
        flushParagraph();
        const level = Math.min(6, m[1].length + 3); // card headings sit below the page's h3
        fragment.appendChild(el("h" + level, { class: "md-heading" }, renderInline(m[2] || "")));
        i += 1;
        continue;
      }
      if (RULE.test(line) && !(para.length && /^\s{0,3}-+\s*$/.test(line))) {
        flushParagraph();
        fragment.appendChild(el("hr"));
        i += 1;
        continue;
      }
      if (QUOTE.test(line)) {
        flushParagraph();
        const quoted = [];
        while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
          quoted.push(m[1]);
          i += 1;
        }
        fragment.appendChild(el("blockquote", {}, [renderMarkdown(quoted.join("\n"))]));
        continue;
      }
      if (LIST_ITEM.test(line)) {
        flushParagraph();
        const list = parseList(lines, i);
        fragment.appendChild(list.node);
        i = list.next;
        continue;
      }
      if (!para.length && line.indexOf("|") !== -1 && i + 1 < lines.length &&
          TABLE_SEPARATOR.test(lines[i + 1]) && lines[i + 1].indexOf("-") !== -1) {
        const header = splitRow(line);
        const aligns = splitRow(lines[i + 1]).map(function (cell) {
          if (/^:-+:$/.test(cell)) return "center";
          if (/-+:$/.test(cell)) return "right";
          if (/^:-+/.test(cell)) return "left";
          return null;
        });
        const row = function (cells, tag) {
          return el("tr", {}, header.map(function (_h, index) {
            const style = aligns[index] ? "text-align: " + aligns[index] : null;
            return el(tag, { class: style ? "align-" + aligns[index] : null }, renderInline(cells[index] || ""));
          }));
        };
        const body = [];
        i += 2;
        while (i < lines.length && !isBlank(lines[i]) && lines[i].indexOf("|") !== -1) {
          body.push(row(splitRow(lines[i]), "td"));
          i += 1;
        }
        fragment.appendChild(el("div", { class: "table-wrap" }, [
          el("table", {}, [el("thead", {}, [row(header, "th")]), el("tbody", {}, body)]),
        ]));
        continue;
      }
      para.push(line);
      i += 1;
    }
    flushParagraph();
    return fragment;
  }

  // ---------------------------------------------------------------------------------------
  // Cards
  // ---------------------------------------------------------------------------------------

  const INDICATORS = { info: "Info", warning: "Warning", critical: "Critical" };
  const RULE_SYSTEM = "urn:opioid-cds:rule";
  const EXPLANATION_KEY = "nl.opioid-cds.explanation";

  function factValue(value) {
    if (value === null || value === undefined) return "—";
    if (Array.isArray(value)) return value.length ? value.map(factValue).join(", ") : "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function renderExplanation(explanation) {
    if (!explanation || typeof explanation !== "object") return null;
    const rows = [];
    const addRow = function (key, value) {
      rows.push(el("tr", {}, [el("th", { scope: "row", text: key }), el("td", { text: factValue(value) })]));
    };
    Object.keys(explanation).forEach(function (key) {
      const value = explanation[key];
      if (value && typeof value === "object" && !Array.isArray(value)) {
        Object.keys(value).forEach(function (inner) {
          addRow(key + "." + inner, value[inner]);
        });
      } else {
        addRow(key, value);
      }
    });
    return el("details", { class: "explanation", testid: "card-explanation" }, [
      el("summary", { text: "Why this card? (explanation)" }),
      el("div", { class: "table-wrap" }, [el("table", {}, [el("tbody", {}, rows)])]),
    ]);
  }

  function renderLinks(links) {
    if (!Array.isArray(links) || !links.length) return null;
    return el("ul", { class: "card-links", testid: "card-links" }, links.map(function (link) {
      const label = String(link.label || link.url || "link");
      const href = safeUrl(link.url);
      if (link.type === "smart") {
        return el("li", {}, [
          el("span", { class: "smart-link", testid: "card-link", title: "SMART app: the HIS launches it" },
            [label + " (SMART app, launched by the HIS)"]),
        ]);
      }
      return el("li", {}, [
        href ? externalLink(href, [label], { class: "card-link", testid: "card-link" })
          : el("span", { class: "card-link invalid", testid: "card-link", text: label + " (invalid URL)" }),
      ]);
    }));
  }

  function renderAction(action) {
    const parts = [
      el("span", { class: "action-type", text: String(action.type || "?") }),
      " ",
      el("span", { class: "action-description", text: String(action.description || "") }),
    ];
    if (action.resourceId) parts.push(" ", el("code", { text: String(action.resourceId) }));
    const item = el("li", { class: "action", testid: "suggestion-action" }, parts);
    if (action.resource) {
      const kind = action.resource.resourceType ? String(action.resource.resourceType) : "resource";
      item.appendChild(el("details", { class: "resource" }, [
        el("summary", { text: kind }),
        el("pre", { text: pretty(action.resource) }),
      ]));
    }
    return item;
  }

  function renderCard(card, context) {
    const indicator = INDICATORS[card.indicator] ? card.indicator : "info";
    const source = card.source || {};
    const topic = source.topic || {};
    const ruleId = topic.system === RULE_SYSTEM ? String(topic.code || "") : "";
    const hasUuid = typeof card.uuid === "string" && card.uuid.length > 0;
    const article = el("article", {
      class: "card card--" + indicator,
      testid: "card",
      "data-indicator": indicator,
      "data-rule-id": ruleId || null,
      "data-uuid": hasUuid ? card.uuid : null,
    });

    const sourceHref = safeUrl(source.url);
    appendAll(article, [
      el("header", { class: "card-header" }, [
        el("span", { class: "badge badge--" + indicator, testid: "card-indicator", text: INDICATORS[indicator] }),
        el("h3", { class: "card-summary", testid: "card-summary", text: String(card.summary || "") }),
      ]),
      el("p", { class: "card-source", testid: "card-source" }, [
        "Source: ",
        sourceHref ? externalLink(sourceHref, [String(source.label || sourceHref)])
          : String(source.label || "—"),
        ruleId ? " · rule " : null,
        ruleId ? el("code", { testid: "card-rule-id", text: ruleId }) : null,
      ]),
    ]);
    if (card.detail) {
      article.appendChild(el("div", { class: "card-detail markdown", testid: "card-detail" }, [renderMarkdown(card.detail)]));
    }
    const links = renderLinks(card.links);
    if (links) article.appendChild(links);

    const status = el("p", { class: "feedback-status", testid: "feedback-status", role: "status" });
    const buttons = [];
    const disableAll = function () {
      buttons.forEach(function (button) { button.disabled = true; });
    };
    const send = function (item, describe) {
      disableAll();
      status.className = "feedback-status pending";
      status.textContent = "Sending feedback…";
      context.sendFeedback(item).then(function (result) {
        status.className = "feedback-status " + (result.ok ? "ok" : "error");
        status.textContent = result.ok ? describe + " " + result.message : result.message;
        if (result.ok) article.classList.add("card--handled");
        else buttons.forEach(function (button) { button.disabled = button.getAttribute("data-locked") === "true"; });
      });
    };

    const suggestions = Array.isArray(card.suggestions) ? card.suggestions : [];
    if (suggestions.length) {
      const behavior = card.selectionBehavior === "at-most-one" ? "choose at most one" : "choose any";
      const box = el("section", { class: "suggestions", testid: "card-suggestions" }, [
        el("h4", { text: "Suggestions (" + behavior + ")" }),
      ]);
      suggestions.forEach(function (suggestion) {
        const accept = el("button", { type: "button", class: "accept", testid: "accept-suggestion", text: "Accept" });
        const canAccept = hasUuid && typeof suggestion.uuid === "string" && suggestion.uuid;
        accept.disabled = !canAccept;
        if (!canAccept) accept.setAttribute("data-locked", "true");
        if (!canAccept) accept.title = "The card or the suggestion has no uuid: no feedback possible";
        buttons.push(accept);
        accept.addEventListener("click", function () {
          send({
            card: card.uuid,
            outcome: "accepted",
            acceptedSuggestions: [{ id: suggestion.uuid }],
            outcomeTimestamp: new Date().toISOString(),
          }, "Accepted “" + String(suggestion.label || "") + "”.");
        });
        const actions = Array.isArray(suggestion.actions) ? suggestion.actions : [];
        box.appendChild(el("div", { class: "suggestion", testid: "suggestion" }, [
          el("div", { class: "suggestion-head" }, [
            el("span", { class: "suggestion-label", testid: "suggestion-label", text: String(suggestion.label || "") }),
            suggestion.isRecommended ? el("span", { class: "recommended", text: "recommended" }) : null,
            accept,
          ]),
          actions.length ? el("ul", { class: "actions" }, actions.map(renderAction)) : null,
        ]));
      });
      article.appendChild(box);
    }

    const reasons = Array.isArray(card.overrideReasons) ? card.overrideReasons : [];
    const reasonSelect = el("select", { class: "override-reason", testid: "override-reason", "aria-label": "Override reason" }, [
      el("option", { value: "", text: reasons.length ? "Choose a reason…" : "No reasons offered" }),
    ].concat(reasons.map(function (reason, index) {
      return el("option", { value: String(index), text: String(reason.display || reason.code) });
    })));
    const comment = el("input", {
      type: "text", class: "override-comment", testid: "override-comment", maxlength: "500",
      placeholder: "Comment (optional)", title: "Only whether there was a comment is stored, never its text", "aria-label": "Override comment",
    });
    const override = el("button", { type: "button", class: "override", testid: "override", text: "Override" });
    if (!hasUuid) {
      [override, reasonSelect, comment].forEach(function (control) {
        control.disabled = true;
        control.setAttribute("data-locked", "true");
      });
    }
    buttons.push(override, reasonSelect, comment);
    override.addEventListener("click", function () {
      const chosen = reasonSelect.value === "" ? null : reasons[parseInt(reasonSelect.value, 10)];
      const text = comment.value.trim();
      const item = { card: card.uuid, outcome: "overridden", outcomeTimestamp: new Date().toISOString() };
      if (chosen || text) {
        item.overrideReason = {};
        if (chosen) item.overrideReason.reason = { system: chosen.system, code: chosen.code, display: chosen.display };
        if (text) item.overrideReason.userComment = text;
      }
      send(item, "Overridden" + (chosen ? " (" + String(chosen.display || chosen.code) + ")." : " without a reason."));
    });
    article.appendChild(el("section", { class: "override-box", testid: "card-override" }, [
      el("h4", { text: "Override" }),
      el("div", { class: "row" }, [reasonSelect, comment, override]),
      hasUuid ? null : el("p", { class: "hint", text: "This card has no uuid, so no feedback can be sent for it." }),
    ]));
    article.appendChild(status);

    const explanation = renderExplanation((card.extension || {})[EXPLANATION_KEY]);
    if (explanation) article.appendChild(explanation);
    if (hasUuid) article.appendChild(el("p", { class: "card-uuid", text: "uuid " + card.uuid }));
    return article;
  }

  /** Render a response body's cards into `container`. context.sendFeedback(item) → Promise. */
  function renderCards(container, body, context) {
    clear(container);
    const cards = body && Array.isArray(body.cards) ? body.cards : [];
    if (!cards.length) {
      container.appendChild(el("p", {
        class: "no-cards", testid: "no-cards",
        text: "No cards: nothing in this request conflicts with the agreements.",
      }));
    }
    cards.forEach(function (card) {
      container.appendChild(renderCard(card || {}, context || { sendFeedback: noFeedback }));
    });
    const systemActions = body && Array.isArray(body.systemActions) ? body.systemActions : [];
    if (systemActions.length) {
      container.appendChild(el("section", { class: "system-actions", testid: "system-actions" }, [
        el("h4", { text: "System actions (applied by the HIS without asking)" }),
        el("ul", { class: "actions" }, systemActions.map(renderAction)),
      ]));
    }
    return cards.length;
  }

  function noFeedback() {
    return Promise.resolve({ ok: false, message: "Feedback is not available here." });
  }

  // ---------------------------------------------------------------------------------------
  // The page
  // ---------------------------------------------------------------------------------------

  const state = { services: [], fixtures: [], lastServiceId: null };

  function $(id) {
    return document.getElementById(id);
  }

  function describeOutcome(body) {
    if (body && body.resourceType === "OperationOutcome" && Array.isArray(body.issue)) {
      return body.issue.map(function (issue) {
        const where = Array.isArray(issue.expression) && issue.expression.length ? " (at " + issue.expression.join(", ") + ")" : "";
        return String(issue.diagnostics || issue.code || "error") + where;
      }).join("; ");
    }
    return null;
  }

  const STATUS_HELP = {
    400: "The request is not a valid CDS Hooks call for this service.",
    401: "The service wants a signed client JWT. The playground sends none: use it on a development instance (no OPIOID_CDS_TRUSTED_CLIENTS, or a trust file, where unsigned calls are let through).",
    404: "Unknown service id.",
    412: "Data the hook needs is neither in prefetch nor fetchable from fhirServer.",
  };

  function serverDuration(response) {
    const header = response.headers.get("Server-Timing") || "";
    const m = /(?:^|,)\s*cds\s*;[^,]*dur=([\d.]+)/.exec(header);
    return m ? parseFloat(m[1]) : null;
  }

  function showStatus(parts, kind) {
    const status = $("status");
    clear(status);
    status.className = "status " + (kind || "");
    appendAll(status, parts);
  }

  async function sendFeedback(item) {
    const serviceId = state.lastServiceId;
    const url = apiUrl("cds-services/" + encodeURIComponent(serviceId) + "/feedback");
    const payload = { feedback: [item] };
    $("raw-feedback").textContent = "POST " + url + "\n\n" + pretty(payload);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
      });
      const text = await response.text();
      let body = null;
      try { body = JSON.parse(text); } catch (_error) { body = null; }
      $("raw-feedback").textContent += "\n\n→ HTTP " + response.status + "\n" + (body ? pretty(body) : text);
      if (!response.ok) {
        return { ok: false, message: "Feedback refused: HTTP " + response.status + " " + (describeOutcome(body) || text) };
      }
      const stored = body && typeof body.stored === "number" ? body.stored : null;
      return {
        ok: true,
        message: stored === 0 ? "The server already had this feedback." : "Feedback stored by the server.",
      };
    } catch (error) {
      return { ok: false, message: "Feedback not sent: " + String(error && error.message ? error.message : error) };
    }
  }

  async function send() {
    const raw = $("request-body").value;
    let payload;
    try {
      payload = JSON.parse(raw);
    } catch (error) {
      showStatus([el("strong", { text: "Not sent: " }), "the request is not valid JSON (" + error.message + ")."], "error");
      return;
    }
    const serviceId = $("service-select").value;
    const language = $("language-select").value;
    const url = apiUrl("cds-services/" + encodeURIComponent(serviceId));
    const headers = { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": language };
    $("raw-request").textContent = "POST " + url + "\n" +
      Object.keys(headers).map(function (key) { return key + ": " + headers[key]; }).join("\n") +
      "\n\n" + pretty(payload);
    $("raw-response").textContent = "";
    $("raw-feedback").textContent = "";
    clear($("cards"));
    showStatus(["Sending to ", el("code", { text: serviceId }), "…"], "pending");
    $("send").disabled = true;
    const started = performance.now();
    try {
      const response = await fetch(url, { method: "POST", headers: headers, body: JSON.stringify(payload) });
      const text = await response.text();
      const roundTrip = performance.now() - started;
      let body = null;
      try { body = JSON.parse(text); } catch (_error) { body = null; }
      const serverMs = serverDuration(response);
      $("raw-response").textContent = "HTTP " + response.status + " " + response.statusText + "\n" +
        ["content-type", "server-timing"].filter(function (name) { return response.headers.get(name); })
          .map(function (name) { return name + ": " + response.headers.get(name); }).join("\n") +
        "\n\n" + (body ? pretty(body) : text);
      const timing = [
        el("span", { class: "timing", testid: "server-time", text: serverMs === null ? "server time unknown" : "server " + serverMs.toFixed(1) + " ms" }),
        " · round trip " + roundTrip.toFixed(0) + " ms",
      ];
      if (!response.ok) {
        showStatus([
          el("strong", { testid: "http-status", text: "HTTP " + response.status }), " — ",
          el("span", { testid: "error-message", text: describeOutcome(body) || text || response.statusText }),
          " ", el("span", { class: "hint", text: STATUS_HELP[response.status] || "" }), el("br"),
        ].concat(timing), "error");
        return;
      }
      state.lastServiceId = serviceId;
      const count = renderCards($("cards"), body, { sendFeedback: sendFeedback });
      showStatus([
        el("strong", { testid: "http-status", text: "HTTP " + response.status }), " · ",
        el("span", { testid: "card-count", text: count + (count === 1 ? " card" : " cards") }), " · ",
      ].concat(timing), "ok");
    } catch (error) {
      showStatus([el("strong", { text: "Not sent: " }), "the service did not answer (" + String(error.message || error) + ")."], "error");
    } finally {
      $("send").disabled = false;
    }
  }

  function serviceForHook(hook) {
    return state.services.find(function (service) { return service.hook === hook; }) || null;
  }

  function checkRequestText() {
    const hint = $("request-hint");
    const raw = $("request-body").value.trim();
    hint.className = "hint";
    if (!raw) {
      hint.textContent = "";
      return;
    }
    let payload;
    try {
      payload = JSON.parse(raw);
    } catch (error) {
      hint.className = "hint warn";
      hint.textContent = "Not valid JSON yet: " + error.message;
      return;
    }
    const hook = payload && typeof payload === "object" ? payload.hook : undefined;
    const service = serviceForHook(hook);
    if (service) {
      $("service-select").value = service.id;
      hint.textContent = "Hook " + hook + " → service " + service.id + ".";
    } else {
      hint.className = "hint warn";
      hint.textContent = hook ? "No service here answers hook " + String(hook) + "." : "The request has no \"hook\".";
    }
  }

  async function loadFixture() {
    const name = $("fixture-select").value;
    if (!name) return;
    const response = await fetch(apiUrl("playground/fixtures/" + encodeURIComponent(name)));
    if (!response.ok) {
      $("fixture-description").textContent = "Could not load fixture " + name + " (HTTP " + response.status + ").";
      return;
    }
    const fixture = await response.json();
    $("request-body").value = pretty(fixture.request);
    if (fixture.service) $("service-select").value = fixture.service;
    if (fixture.language) $("language-select").value = fixture.language;
    checkRequestText();
    describeFixture();
  }

  function describeFixture() {
    const name = $("fixture-select").value;
    const fixture = state.fixtures.find(function (item) { return item.name === name; });
    const target = $("fixture-description");
    clear(target);
    if (!fixture) return;
    appendAll(target, [
      fixture.description || "",
      fixture.mustFire && fixture.mustFire.length ? " Expected rules: " + fixture.mustFire.join(", ") + "." : "",
    ]);
  }

  async function init() {
    let body = null;
    try {
      const response = await fetch(apiUrl("playground/fixtures"));
      body = await response.json();
      state.services = body.services || [];
      state.fixtures = body.fixtures || [];
    } catch (error) {
      $("fixture-description").textContent = "Could not load the fixtures: " + String(error.message || error);
    }
    const serviceSelect = $("service-select");
    clear(serviceSelect);
    state.services.forEach(function (service) {
      serviceSelect.appendChild(el("option", { value: service.id, text: service.hook + " — " + service.id }));
    });
    const fixtureSelect = $("fixture-select");
    clear(fixtureSelect);
    fixtureSelect.appendChild(el("option", { value: "", text: state.fixtures.length ? "Choose a fixture…" : "No fixtures installed" }));
    state.fixtures.forEach(function (fixture) {
      fixtureSelect.appendChild(el("option", { value: fixture.name, text: fixture.name + " (" + fixture.hook + ")" }));
    });
    if (body && body.defaultFixture && !$("request-body").value.trim()) {
      fixtureSelect.value = body.defaultFixture;
      describeFixture();
      await loadFixture();
    }
    fixtureSelect.addEventListener("change", function () {
      describeFixture();
      loadFixture();
    });
    $("load-fixture").addEventListener("click", loadFixture);
    $("send").addEventListener("click", send);
    $("request-body").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        send();
      }
    });
    let timer = null;
    $("request-body").addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(checkRequestText, 250);
    });
    document.body.setAttribute("data-ready", "true");
  }

  /** Show a response body's cards as if `serviceId` had answered (feedback goes there). */
  function showResponse(body, serviceId) {
    state.lastServiceId = serviceId;
    return renderCards($("cards"), body, { sendFeedback: sendFeedback });
  }

  window.OpioidPlayground = {
    renderMarkdown: renderMarkdown,
    renderCards: renderCards,
    showResponse: showResponse,
    safeUrl: safeUrl,
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
