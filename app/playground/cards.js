/*
 * Cards as a GP sees them: indicator, summary, source, Markdown detail, links, suggestions
 * with their actions, override reasons, and the explanation the service attached.
 *
 * `context.sendFeedback(item)` sends feedback and resolves to {ok, message};
 * `context.acceptSuggestion(card, suggestion)`, when given, is called after an accepted
 * suggestion's feedback was stored (the page applies its actions to the draft, as an EHR does).
 */
import { appendAll, clear, el, externalLink, pretty, safeUrl } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

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

export function renderCard(card, context) {
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
  const send = function (item, describe, afterStored) {
    disableAll();
    status.className = "feedback-status pending";
    status.textContent = "Sending feedback…";
    context.sendFeedback(item).then(function (result) {
      status.className = "feedback-status " + (result.ok ? "ok" : "error");
      status.textContent = result.ok ? describe + " " + result.message : result.message;
      if (result.ok) {
        article.classList.add("card--handled");
        if (afterStored) afterStored();
      } else {
        buttons.forEach(function (button) { button.disabled = button.getAttribute("data-locked") === "true"; });
      }
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
        }, "Accepted “" + String(suggestion.label || "") + "”.", function () {
          if (context.acceptSuggestion) context.acceptSuggestion(card, suggestion);
        });
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

/** Render a response body's cards into `container`; returns how many there are. */
export function renderCards(container, body, context) {
  clear(container);
  const cards = body && Array.isArray(body.cards) ? body.cards : [];
  if (!cards.length) {
    container.appendChild(el("p", {
      class: "no-cards", testid: "no-cards",
      text: "No cards: nothing in this request conflicts with the agreements.",
    }));
  }
  const feedback = context || { sendFeedback: noFeedback };
  cards.forEach(function (card) {
    container.appendChild(renderCard(card || {}, feedback));
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

/** The rule id of each card (`source.topic.code` in the rule system), in card order. */
export function ruleIdsOf(body) {
  const cards = body && Array.isArray(body.cards) ? body.cards : [];
  return cards.map(function (card) {
    const topic = ((card || {}).source || {}).topic || {};
    return topic.system === RULE_SYSTEM ? String(topic.code || "") : "";
  }).filter(Boolean);
}

function noFeedback() {
  return Promise.resolve({ ok: false, message: "Feedback is not available here." });
}

