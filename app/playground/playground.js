/*
 * Opioid CDS playground: an EHR in a page. Pick a fixture or edit the draft order; every
 * change sends the CDS Hooks request again (debounced), as an EHR does on order-select and
 * order-sign. Cards come back as a GP sees them; accepting a suggestion sends feedback and
 * applies its actions to the draft; override sends feedback.
 *
 * Modules: dom.js (DOM helpers), markdown.js (card Markdown, sanitised), cards.js (cards),
 * order.js (reading and changing the draft order), ehr.js (strip and order form).
 */
import { renderCards, ruleIdsOf } from "./cards.js";
import { appendAll, byId, clear, el, pretty, safeUrl } from "./dom.js";
import { setUpOrderForm, renderStrip } from "./ehr.js";
import { renderMarkdown } from "./markdown.js";
import { readOrder, withOrder, withSuggestion } from "./order.js";

// The service root, so the page also works behind a path prefix (/cds/playground).
const BASE = new URL(".", window.location.href);
const RESEND_DELAY_MS = 400;

const state = {
  services: [],
  fixtures: [],
  lastServiceId: null,
  fixture: null, // the loaded fixture's info, for expected vs fired rules
  edited: false, // the request was changed after the fixture was loaded
  sent: 0, // numbers the sends, so only the newest answer is shown
  form: null,
  resendTimer: null,
};

function apiUrl(path) {
  return new URL(path, BASE).toString();
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
  const status = byId("status");
  clear(status);
  status.className = "status " + (kind || "");
  appendAll(status, parts);
}

function parseRequest() {
  try {
    return JSON.parse(byId("request-body").value);
  } catch (_error) {
    return null;
  }
}

function requestHeaders() {
  return { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": byId("language-select").value };
}

function serviceUrl() {
  return apiUrl("cds-services/" + encodeURIComponent(byId("service-select").value));
}

// --- feedback and suggestions ------------------------------------------------------------

async function sendFeedback(item) {
  const url = apiUrl("cds-services/" + encodeURIComponent(state.lastServiceId) + "/feedback");
  const payload = { feedback: [item] };
  byId("raw-feedback").textContent = "POST " + url + "\n\n" + pretty(payload);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
    });
    const text = await response.text();
    let body = null;
    try { body = JSON.parse(text); } catch (_error) { body = null; }
    byId("raw-feedback").textContent += "\n\n→ HTTP " + response.status + "\n" + (body ? pretty(body) : text);
    if (!response.ok) {
      return { ok: false, message: "Feedback refused: HTTP " + response.status + " " + (describeOutcome(body) || text) };
    }
    const stored = body && typeof body.stored === "number" ? body.stored : null;
    return { ok: true, message: stored === 0 ? "The server already had this feedback." : "Feedback stored by the server." };
  } catch (error) {
    return { ok: false, message: "Feedback not sent: " + String(error && error.message ? error.message : error) };
  }
}

/** After an accepted suggestion's feedback: apply its actions to the draft and send again. */
function acceptSuggestion(_card, suggestion) {
  const request = parseRequest();
  const log = byId("ehr-log");
  if (!request) {
    log.textContent = "Accepted “" + String(suggestion.label || "") + "”, but the request is not valid JSON: nothing applied.";
    return;
  }
  const result = withSuggestion(request, suggestion);
  const parts = result.done.concat(result.skipped.map(function (text) { return "not applied: " + text; }));
  log.textContent = "Accepted “" + String(suggestion.label || "") + "”: " + (parts.join("; ") || "no actions") + ".";
  if (result.done.length) {
    setRequest(result.request);
    send();
  }
}

const cardContext = { sendFeedback: sendFeedback, acceptSuggestion: acceptSuggestion };

// --- expected vs fired rules -------------------------------------------------------------

function renderExpectations(body) {
  const box = byId("expectations");
  clear(box);
  const fixture = state.fixture;
  box.hidden = !fixture;
  if (!fixture) return;
  const fired = ruleIdsOf(body);
  const rows = [];
  const row = function (rule, expected, didFire) {
    const ok = expected === "must fire" ? didFire : expected === "must not fire" ? !didFire : null;
    rows.push(el("tr", { class: ok === false ? "mismatch" : "", "data-rule-id": rule, testid: "expectation" }, [
      el("td", {}, [el("code", { text: rule })]),
      el("td", { text: expected }),
      el("td", { text: didFire ? "fired" : "silent" }),
      el("td", { class: "verdict", testid: "verdict", text: ok === null ? "" : ok ? "✓ as expected" : "✗ not as expected" }),
    ]));
  };
  fixture.mustFire.forEach(function (rule) { row(rule, "must fire", fired.indexOf(rule) !== -1); });
  fixture.mustNotFire.forEach(function (rule) { row(rule, "must not fire", fired.indexOf(rule) !== -1); });
  fired.filter(function (rule) { return fixture.mustFire.indexOf(rule) === -1 && fixture.mustNotFire.indexOf(rule) === -1; })
    .forEach(function (rule) { row(rule, "not stated", true); });
  appendAll(box, [
    el("h3", { text: "Expected vs fired: fixture " + fixture.name }),
    state.edited ? el("p", { class: "hint warn", testid: "expectations-edited", text: "The request was changed after loading: the fixture's expectations are for the request as loaded." }) : null,
    el("div", { class: "table-wrap" }, [el("table", {}, [
      el("thead", {}, [el("tr", {}, ["Rule", "Fixture says", "This response", ""].map(function (text) { return el("th", { text: text }); }))]),
      el("tbody", {}, rows),
    ])]),
  ]);
}

// --- sending -----------------------------------------------------------------------------

async function send() {
  clearTimeout(state.resendTimer);
  let payload;
  try {
    payload = JSON.parse(byId("request-body").value);
  } catch (error) {
    showStatus([el("strong", { text: "Not sent: " }), "the request is not valid JSON (" + error.message + ")."], "error");
    return;
  }
  const serviceId = byId("service-select").value;
  const url = serviceUrl();
  const headers = requestHeaders();
  const number = ++state.sent;
  byId("raw-request").textContent = "POST " + url + "\n" +
    Object.keys(headers).map(function (key) { return key + ": " + headers[key]; }).join("\n") +
    "\n\n" + pretty(payload);
  showStatus(["Sending to ", el("code", { text: serviceId }), "…"], "pending");
  byId("send").disabled = true;
  const started = performance.now();
  try {
    const response = await fetch(url, { method: "POST", headers: headers, body: JSON.stringify(payload) });
    const text = await response.text();
    if (number !== state.sent) return; // a newer request is on its way
    const roundTrip = performance.now() - started;
    let body = null;
    try { body = JSON.parse(text); } catch (_error) { body = null; }
    const serverMs = serverDuration(response);
    byId("raw-response").textContent = "HTTP " + response.status + " " + response.statusText + "\n" +
      ["content-type", "server-timing"].filter(function (name) { return response.headers.get(name); })
        .map(function (name) { return name + ": " + response.headers.get(name); }).join("\n") +
      "\n\n" + (body ? pretty(body) : text);
    byId("raw-feedback").textContent = "";
    const timing = [
      el("span", { class: "timing", testid: "server-time", text: serverMs === null ? "server time unknown" : "server " + serverMs.toFixed(1) + " ms" }),
      " · round trip " + roundTrip.toFixed(0) + " ms",
    ];
    if (!response.ok) {
      clear(byId("cards"));
      renderExpectations(null);
      showStatus([
        el("strong", { testid: "http-status", text: "HTTP " + response.status }), " — ",
        el("span", { testid: "error-message", text: describeOutcome(body) || text || response.statusText }),
        " ", el("span", { class: "hint", text: STATUS_HELP[response.status] || "" }), el("br"),
      ].concat(timing), "error");
      return;
    }
    state.lastServiceId = serviceId;
    const count = renderCards(byId("cards"), body, cardContext);
    renderExpectations(body);
    showStatus([
      el("strong", { testid: "http-status", text: "HTTP " + response.status }), " · ",
      el("span", { testid: "card-count", text: count + (count === 1 ? " card" : " cards") }), " · ",
    ].concat(timing), "ok");
  } catch (error) {
    if (number === state.sent) {
      showStatus([el("strong", { text: "Not sent: " }), "the service did not answer (" + String(error.message || error) + ")."], "error");
    }
  } finally {
    if (number === state.sent) byId("send").disabled = false;
  }
}

function sendSoon() {
  clearTimeout(state.resendTimer);
  state.resendTimer = setTimeout(send, RESEND_DELAY_MS);
}

// --- the request, the strip and the form -------------------------------------------------

/** Put `request` in the editor and show it in the strip and the form. */
function setRequest(request) {
  byId("request-body").value = pretty(request);
  checkRequestText();
}

function onOrderChange(values) {
  const request = parseRequest();
  if (!request) return;
  state.edited = true;
  setRequest(withOrder(request, values));
  sendSoon();
}

function serviceForHook(hook) {
  return state.services.find(function (service) { return service.hook === hook; }) || null;
}

function checkRequestText() {
  const hint = byId("request-hint");
  const raw = byId("request-body").value.trim();
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
    renderStrip(null);
    return;
  }
  const summary = readOrder(payload, new Date());
  renderStrip(summary);
  if (state.form) state.form.fill(summary);
  const hook = payload && typeof payload === "object" ? payload.hook : undefined;
  const service = serviceForHook(hook);
  if (service) {
    byId("service-select").value = service.id;
    hint.textContent = "Hook " + hook + " → service " + service.id + ".";
  } else {
    hint.className = "hint warn";
    hint.textContent = hook ? "No service here answers hook " + String(hook) + "." : "The request has no \"hook\".";
  }
}

// --- copy as curl ------------------------------------------------------------------------

/** A shell command that sends the current request; the body goes in a quoted here-document,
 * so nothing in the JSON needs escaping. */
function curlCommand(payload) {
  const quote = function (text) { return "'" + String(text).replace(/'/g, "'\\''") + "'"; };
  const headers = requestHeaders();
  return ["curl -sS -X POST " + quote(serviceUrl())]
    .concat(Object.keys(headers).map(function (key) { return "  -H " + quote(key + ": " + headers[key]); }))
    .concat(["  --data-binary @- <<'JSON'"]).join(" \\\n") + "\n" + pretty(payload) + "\nJSON\n";
}

async function copyCurl() {
  const payload = parseRequest();
  const status = byId("curl-status");
  if (!payload) {
    status.textContent = "The request is not valid JSON: no curl command.";
    return;
  }
  const command = curlCommand(payload);
  byId("curl-command").textContent = command;
  byId("curl-details").open = true;
  try {
    await navigator.clipboard.writeText(command);
    status.textContent = "Copied to the clipboard.";
  } catch (_error) {
    status.textContent = "The browser did not allow copying: select the command below.";
  }
}

// --- fixtures ----------------------------------------------------------------------------

async function loadFixture() {
  const name = byId("fixture-select").value;
  if (!name) return;
  const response = await fetch(apiUrl("playground/fixtures/" + encodeURIComponent(name)));
  if (!response.ok) {
    byId("fixture-description").textContent = "Could not load fixture " + name + " (HTTP " + response.status + ").";
    return;
  }
  const fixture = await response.json();
  state.fixture = { name: name, mustFire: fixture.mustFire || [], mustNotFire: fixture.mustNotFire || [] };
  state.edited = false;
  if (fixture.language) byId("language-select").value = fixture.language;
  setRequest(fixture.request);
  if (fixture.service) byId("service-select").value = fixture.service;
  describeFixture();
}

function describeFixture() {
  const name = byId("fixture-select").value;
  const fixture = state.fixtures.find(function (item) { return item.name === name; });
  const target = byId("fixture-description");
  clear(target);
  if (!fixture) return;
  appendAll(target, [
    fixture.description || "",
    fixture.mustFire && fixture.mustFire.length ? " Expected rules: " + fixture.mustFire.join(", ") + "." : "",
  ]);
}

async function fetchJson(path) {
  const response = await fetch(apiUrl(path));
  if (!response.ok) throw new Error("HTTP " + response.status + " for " + path);
  return response.json();
}

async function init() {
  let body = null;
  try {
    body = await fetchJson("playground/fixtures");
    state.services = body.services || [];
    state.fixtures = body.fixtures || [];
  } catch (error) {
    byId("fixture-description").textContent = "Could not load the fixtures: " + String(error.message || error);
  }
  try {
    state.form = setUpOrderForm(await fetchJson("playground/catalogue"), onOrderChange);
  } catch (error) {
    byId("order-hint").textContent = "Could not load the catalogue: " + String(error.message || error);
  }
  const serviceSelect = byId("service-select");
  clear(serviceSelect);
  state.services.forEach(function (service) {
    serviceSelect.appendChild(el("option", { value: service.id, text: service.hook + " — " + service.id }));
  });
  const fixtureSelect = byId("fixture-select");
  clear(fixtureSelect);
  fixtureSelect.appendChild(el("option", { value: "", text: state.fixtures.length ? "Choose a fixture…" : "No fixtures installed" }));
  state.fixtures.forEach(function (fixture) {
    fixtureSelect.appendChild(el("option", { value: fixture.name, text: fixture.name + " (" + fixture.hook + ")" }));
  });
  if (body && body.defaultFixture && !byId("request-body").value.trim()) {
    fixtureSelect.value = body.defaultFixture;
    await loadFixture();
  }
  fixtureSelect.addEventListener("change", loadFixture);
  byId("load-fixture").addEventListener("click", loadFixture);
  byId("send").addEventListener("click", send);
  byId("copy-curl").addEventListener("click", copyCurl);
  byId("language-select").addEventListener("change", function () { byId("curl-command").textContent = ""; });
  byId("request-body").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
  let timer = null;
  byId("request-body").addEventListener("input", function () {
    state.edited = true;
    clearTimeout(timer);
    timer = setTimeout(checkRequestText, 250);
  });
  document.body.setAttribute("data-ready", "true");
}

/** Show a response body's cards as if `serviceId` had answered (feedback goes there). */
function showResponse(body, serviceId) {
  state.lastServiceId = serviceId;
  return renderCards(byId("cards"), body, cardContext);
}

// For the browser tests and for trying things out in the console.
window.OpioidPlayground = {
  renderMarkdown: renderMarkdown,
  renderCards: renderCards,
  showResponse: showResponse,
  safeUrl: safeUrl,
};
init();
