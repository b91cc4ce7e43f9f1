/*
 * The EHR side of the page: the patient and order strip above the cards, and the order form
 * that edits the draft MedicationRequest (order.js does the reading and writing).
 */
import { byId, clear, el } from "./dom.js";

const SEX = { female: "female", male: "male", other: "other", unknown: "unknown" };

function number(value) {
  return Math.round(value * 100) / 100;
}

function stripItem(label, value, testid) {
  return [
    el("dt", { text: label }),
    el("dd", { testid: testid, text: value === null || value === undefined || value === "" ? "—" : String(value) }),
  ];
}

/** Age, sex, product, dose, frequency, duration and prescriber role of `summary` (readOrder). */
export function renderStrip(summary) {
  const strip = byId("order-strip");
  clear(strip);
  if (!summary) {
    strip.appendChild(el("dd", { class: "hint", text: "The request is not valid JSON: nothing to show." }));
    return;
  }
  const duration = summary.duration || {};
  const items = [
    stripItem("Age", summary.age === null ? null : summary.age + " y", "strip-age"),
    stripItem("Sex", SEX[summary.sex] || summary.sex, "strip-sex"),
    stripItem("Product", summary.hasOrder ? summary.product : "no draft MedicationRequest", "strip-product"),
    stripItem("Dose", summary.dose ? number(summary.dose.value) + " " + summary.dose.unit : null, "strip-dose"),
    stripItem("Frequency", summary.perDay ? number(summary.perDay) + "× per day" + (summary.asNeeded ? ", as needed" : "") : null, "strip-frequency"),
    stripItem("Duration", duration.days ? number(duration.days) + (duration.days === 1 ? " day" : " days") + " (" + duration.source + ")" : null, "strip-duration"),
    stripItem("Prescriber", summary.role, "strip-role"),
  ];
  items.forEach(function (pair) {
    strip.appendChild(el("div", { class: "strip-item" }, pair));
  });
}

function optionFor(choice, index, prefix) {
  return el("option", { value: prefix + index, text: choice.display + " (" + choice.systemKey + " " + choice.code + ")" });
}

/**
 * The order form. `choices` is /playground/catalogue's body; `onChange(values)` gets the one
 * field the user changed, in withOrder's terms.
 */
export function setUpOrderForm(choices, onChange) {
  const products = choices.products || [];
  const indications = choices.indications || [];
  const productSelect = byId("order-product");
  clear(productSelect);
  productSelect.appendChild(el("option", { value: "", text: "(as in the request)" }));
  const groups = {};
  products.forEach(function (product, index) {
    const label = product.isOpioid ? "Opioids — " + product.systemKey : "Other — " + product.systemKey;
    if (!groups[label]) groups[label] = productSelect.appendChild(el("optgroup", { label: label }));
    groups[label].appendChild(optionFor(product, index, "p"));
  });
  const indicationSelect = byId("order-indication");
  clear(indicationSelect);
  indicationSelect.appendChild(el("option", { value: "", text: "(as in the request)" }));
  indicationSelect.appendChild(el("option", { value: "none", text: "No indication" }));
  indications.forEach(function (indication, index) {
    indicationSelect.appendChild(optionFor(indication, index, "i"));
  });

  const pick = function (list, value) { return list[Number(String(value).slice(1))] || null; };
  productSelect.addEventListener("change", function () {
    const product = pick(products, productSelect.value);
    if (product) onChange({ product: product });
  });
  indicationSelect.addEventListener("change", function () {
    const value = indicationSelect.value;
    if (value === "none") onChange({ indication: "none" });
    else if (value) onChange({ indication: pick(indications, value) });
  });
  [["order-dose", "dose"], ["order-frequency", "perDay"], ["order-duration", "days"]].forEach(function (pair) {
    const input = byId(pair[0]);
    input.addEventListener("input", function () {
      const value = Number(input.value);
      // An empty or half-typed field changes nothing until it holds a positive number.
      if (input.value !== "" && value > 0 && input.checkValidity()) onChange({ [pair[1]]: value });
    });
  });
  return {
    /** Show `summary` (readOrder) in the form without firing changes. */
    fill: function (summary) {
      const hasOrder = Boolean(summary && summary.hasOrder);
      [productSelect, indicationSelect, byId("order-dose"), byId("order-frequency"), byId("order-duration")]
        .forEach(function (control) { control.disabled = !hasOrder; });
      byId("order-hint").textContent = hasOrder ? "" : "This request has no draft MedicationRequest to edit.";
      if (!hasOrder) return;
      const productIndex = products.findIndex(function (product) {
        return summary.codings.some(function (coding) { return coding && coding.system === product.system && coding.code === product.code; });
      });
      productSelect.value = productIndex === -1 ? "" : "p" + productIndex;
      const coding = summary.indication ? summary.indication.coding : null;
      const indicationIndex = coding ? indications.findIndex(function (item) {
        return item.system === coding.system && item.code === coding.code;
      }) : -1;
      indicationSelect.value = !summary.indication ? "none" : indicationIndex === -1 ? "" : "i" + indicationIndex;
      setIfIdle("order-dose", summary.dose ? number(summary.dose.value) : "");
      setIfIdle("order-frequency", summary.perDay ? number(summary.perDay) : "");
      setIfIdle("order-duration", summary.duration && summary.duration.days ? number(summary.duration.days) : "");
      const named = summary.indication ? summary.indication.text : null;
      byId("order-hint").textContent = indicationSelect.value === "" && named ? "Indication in the request: " + named : "";
    },
  };
}

/** A number field is only overwritten when it says something else (keeps the caret while typing). */
function setIfIdle(id, value) {
  const input = byId(id);
  if (Number(input.value) !== Number(value) || input.value === "") input.value = String(value);
}
