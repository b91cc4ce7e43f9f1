/*
 * The draft order of a CDS Hooks request, read and changed as an EHR would: the patient and
 * order strip, the order form, and accepted suggestions all go through here. Plain data in,
 * plain data out (no DOM); the request is copied, never changed in place.
 *
 * What is read is what the request says, field by field, not what the rules make of it: the
 * card's "Why this card?" shows the service's reading.
 */

const PERIOD_OF_USE = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period";
const PQ_TRANSLATION = "http://hl7.org/fhir/StructureDefinition/iso21090-PQ-translation";
const UCUM = "http://unitsofmeasure.org";
const DAYS_PER_UNIT = { d: 1, wk: 7, mo: 30, a: 365 };
const DAY_MS = 24 * 60 * 60 * 1000;

function copy(value) {
  return JSON.parse(JSON.stringify(value));
}

function asArray(value) {
  if (Array.isArray(value)) return value;
  return value && typeof value === "object" ? [value] : [];
}

function reference(resource) {
  return resource.resourceType + "/" + resource.id;
}

function draftEntries(request) {
  const bundle = ((request || {}).context || {}).draftOrders;
  return bundle && Array.isArray(bundle.entry) ? bundle.entry : [];
}

/** The draft MedicationRequest the form edits: the first selected one, else the first. */
export function primaryDraft(request) {
  const selections = asArray(((request || {}).context || {}).selections);
  const orders = draftEntries(request)
    .map(function (entry) { return (entry || {}).resource; })
    .filter(function (resource) { return resource && resource.resourceType === "MedicationRequest"; });
  return orders.find(function (order) { return selections.indexOf(reference(order)) !== -1; }) ||
    orders[0] || null;
}

// --- dates -----------------------------------------------------------------------------

function parseDay(value) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(typeof value === "string" ? value : "");
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : null;
}

function formatDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function ageInYears(birthDate, today) {
  const birth = parseDay(birthDate);
  if (birth === null) return null;
  const born = new Date(birth);
  let age = today.getUTCFullYear() - born.getUTCFullYear();
  const beforeBirthday = today.getUTCMonth() < born.getUTCMonth() ||
    (today.getUTCMonth() === born.getUTCMonth() && today.getUTCDate() < born.getUTCDate());
  return beforeBirthday ? age - 1 : age;
}

// --- reading ---------------------------------------------------------------------------

function periodOfUse(order) {
  const extension = asArray(order.extension).find(function (item) { return item && item.url === PERIOD_OF_USE; });
  return extension && extension.valuePeriod ? extension.valuePeriod : null;
}

function firstDosage(order) {
  return asArray(order.dosageInstruction)[0] || null;
}

function doseQuantity(order) {
  const dosage = firstDosage(order);
  const doseAndRate = dosage ? asArray(dosage.doseAndRate)[0] : null;
  return doseAndRate && doseAndRate.doseQuantity ? doseAndRate.doseQuantity : null;
}

function timingRepeat(order) {
  const dosage = firstDosage(order);
  return dosage && dosage.timing && dosage.timing.repeat ? dosage.timing.repeat : null;
}

function perDay(repeat) {
  if (!repeat || typeof repeat.frequency !== "number") return null;
  const days = (repeat.period || 1) * (DAYS_PER_UNIT[repeat.periodUnit || "d"] || NaN);
  return days > 0 ? repeat.frequency / days : null;
}

function quantityDays(quantity) {
  if (!quantity || typeof quantity.value !== "number") return null;
  const factor = DAYS_PER_UNIT[quantity.code || quantity.unit];
  return factor ? quantity.value * factor : null;
}

/** The order's duration in days and where it was read: the four places an EHR writes it. */
export function durationOf(order) {
  const period = periodOfUse(order);
  const start = period ? parseDay(period.start) : null;
  const end = period ? parseDay(period.end) : null;
  if (start !== null && end !== null) return { days: Math.round((end - start) / DAY_MS) + 1, source: "period of use" };
  const supply = quantityDays(((order.dispenseRequest || {}).expectedSupplyDuration));
  if (supply !== null) return { days: supply, source: "expected supply" };
  const bounds = quantityDays((timingRepeat(order) || {}).boundsDuration);
  if (bounds !== null) return { days: bounds, source: "timing bounds" };
  return { days: null, source: null };
}

function conceptText(concept) {
  if (!concept) return null;
  const coding = asArray(concept.coding)[0] || {};
  return concept.text || coding.display || coding.code || null;
}

function findResource(request, type, id) {
  const prefetch = (request || {}).prefetch || {};
  for (const key of Object.keys(prefetch)) {
    const value = prefetch[key] || {};
    const candidates = value.resourceType === "Bundle"
      ? asArray(value.entry).map(function (entry) { return (entry || {}).resource; }) : [value];
    const hit = candidates.find(function (item) { return item && item.resourceType === type && item.id === id; });
    if (hit) return hit;
  }
  return null;
}

function prescriberRole(request, order) {
  const ref = ((request || {}).context || {}).userId || ((order || {}).requester || {}).reference || "";
  const [type, id] = String(ref).split("/");
  const resource = type === "PractitionerRole" ? findResource(request, type, id) : null;
  const specialty = resource ? conceptText(asArray(resource.specialty)[0]) || conceptText(asArray(resource.code)[0]) : null;
  return specialty || ((order || {}).requester || {}).display || (ref ? ref : null);
}

/** What the strip and the form show: patient and draft order, as the request says them. */
export function readOrder(request, today) {
  const patient = ((request || {}).prefetch || {}).patient || {};
  const order = primaryDraft(request);
  const summary = {
    age: ageInYears(patient.birthDate, today || new Date()),
    sex: patient.gender || null,
    hasOrder: Boolean(order),
    role: prescriberRole(request, order),
  };
  if (!order) return summary;
  const concept = order.medicationCodeableConcept || null;
  const dose = doseQuantity(order);
  const repeat = timingRepeat(order);
  const reason = asArray(order.reasonCode)[0] || null;
  return Object.assign(summary, {
    codings: asArray((concept || {}).coding),
    product: conceptText(concept) || ((order.medicationReference || {}).display) || null,
    dose: dose && typeof dose.value === "number" ? { value: dose.value, unit: dose.unit || dose.code || "" } : null,
    perDay: perDay(repeat),
    asNeeded: Boolean(firstDosage(order) && firstDosage(order).asNeededBoolean),
    duration: durationOf(order),
    indication: reason ? { coding: asArray(reason.coding)[0] || null, text: conceptText(reason) } : null,
  });
}

// --- writing ---------------------------------------------------------------------------

function setDose(order, value) {
  const dosage = firstDosage(order) || (order.dosageInstruction = [{}])[0];
  const doseAndRate = asArray(dosage.doseAndRate)[0] || (dosage.doseAndRate = [{}])[0];
  const quantity = doseAndRate.doseQuantity || (doseAndRate.doseQuantity = { unit: "stuk", system: UCUM, code: "1" });
  quantity.value = value;
  asArray(quantity.extension).forEach(function (item) {
    if (item && item.url === PQ_TRANSLATION && item.valueQuantity) item.valueQuantity.value = value;
  });
}

function setFrequency(order, timesPerDay) {
  const dosage = firstDosage(order) || (order.dosageInstruction = [{}])[0];
  const timing = dosage.timing || (dosage.timing = {});
  delete timing.code; // a coded schedule ("BID") would contradict the new frequency
  const repeat = timing.repeat || (timing.repeat = {});
  delete repeat.frequencyMax;
  Object.assign(repeat, { frequency: timesPerDay, period: 1, periodUnit: "d" });
}

function days(value) {
  return { value: value, unit: "dag", system: UCUM, code: "d" };
}

/** Every place the order states its duration gets the new one; the supply when none does. */
function setDuration(order, total) {
  const period = periodOfUse(order);
  const start = period ? parseDay(period.start) : null;
  if (start !== null) period.end = formatDay(start + (total - 1) * DAY_MS);
  const dispense = order.dispenseRequest || (order.dispenseRequest = {});
  if (dispense.expectedSupplyDuration || start === null) dispense.expectedSupplyDuration = days(total);
  const repeat = timingRepeat(order);
  if (repeat && repeat.boundsDuration) repeat.boundsDuration = days(total);
}

function setQuantity(order) {
  const dispense = order.dispenseRequest || {};
  const dose = doseQuantity(order);
  const daily = perDay(timingRepeat(order));
  const total = durationOf(order).days;
  if (dispense.quantity && dose && typeof dose.value === "number" && daily && total) {
    dispense.quantity.value = Math.round(dose.value * daily * total * 100) / 100;
  }
}

function describeDosage(order) {
  const dosage = firstDosage(order);
  const dose = doseQuantity(order);
  const daily = perDay(timingRepeat(order));
  if (dosage && dose && daily) dosage.text = daily + " maal per dag " + dose.value + " " + (dose.unit || "");
}

/**
 * The request with its draft order changed by `values`: any of {product, dose, perDay, days,
 * indication} (product and indication are catalogue choices; indication "none" removes it).
 * Fields not given are left alone. The quantity, and after a new dose or frequency the dosage
 * text, follow, as an EHR recomputes them.
 */
export function withOrder(request, values) {
  const changed = copy(request);
  const order = primaryDraft(changed);
  if (!order) return changed;
  if (values.product) {
    const { system, code, display } = values.product;
    order.medicationCodeableConcept = { coding: [{ system: system, code: code, display: display, userSelected: true }], text: display };
    delete order.medicationReference;
  }
  if (values.dose > 0) setDose(order, values.dose);
  if (values.perDay > 0) setFrequency(order, values.perDay);
  if (values.days > 0) setDuration(order, Math.round(values.days));
  if (values.indication === "none") delete order.reasonCode;
  else if (values.indication) {
    const { system, code, display } = values.indication;
    order.reasonCode = [{ coding: [{ system: system, code: code, display: display }], text: display }];
  }
  setQuantity(order);
  if (values.dose > 0 || values.perDay > 0) describeDosage(order);
  return changed;
}

// --- accepted suggestions (CDS Hooks 2.0 actions) --------------------------------------

function sameResource(resource, type, id) {
  return resource && resource.resourceType === type && resource.id === id;
}

/**
 * The request after an accepted suggestion: `update` replaces the draft with the same type
 * and id by the action's resource, `create` adds the resource to the draft orders, `delete`
 * removes the draft named by `resourceId` (and its selection). Returns {request, done, skipped}
 * with a sentence per action.
 */
export function withSuggestion(request, suggestion) {
  const changed = copy(request);
  const context = changed.context || (changed.context = {});
  const bundle = context.draftOrders || (context.draftOrders = { resourceType: "Bundle", type: "collection", entry: [] });
  bundle.entry = Array.isArray(bundle.entry) ? bundle.entry : [];
  const done = [];
  const skipped = [];
  asArray((suggestion || {}).actions).forEach(function (action, index) {
    const resource = action.resource || null;
    if (action.type === "update" && resource && resource.id) {
      const entry = bundle.entry.find(function (item) { return sameResource((item || {}).resource, resource.resourceType, resource.id); });
      if (entry) {
        entry.resource = copy(resource);
        done.push(reference(resource) + " updated");
      } else {
        skipped.push("no draft " + reference(resource) + " to update");
      }
    } else if (action.type === "create" && resource) {
      const created = copy(resource);
      if (!created.id) created.id = "playground-" + Date.now().toString(36) + "-" + index;
      bundle.entry.push({ resource: created });
      done.push(reference(created) + " created");
    } else if (action.type === "delete" && action.resourceId) {
      const [type, id] = String(action.resourceId).split("/");
      const before = bundle.entry.length;
      bundle.entry = bundle.entry.filter(function (item) { return !sameResource((item || {}).resource, type, id); });
      if (Array.isArray(context.selections)) {
        context.selections = context.selections.filter(function (ref) { return ref !== action.resourceId; });
      }
      if (bundle.entry.length < before) done.push(action.resourceId + " deleted");
      else skipped.push("no draft " + action.resourceId + " to delete");
    } else {
      skipped.push("a " + String(action.type || "?") + " action without what it needs");
    }
  });
  return { request: changed, done: done, skipped: skipped };
}
