// A teacher edits an assignment (PATCH /v1/assignments/{id}) in a modal dialog, built once and reused, or sends it
// to the trash (DELETE) after a confirmation.
import { api, errorText, toUtc } from "./context.js";
import { confirmDialog } from "./filedialog.js";
import { t } from "./i18n.js";
import { announce, h } from "./ui.js";

const MB = 1_000_000; // sizes are shown in decimal units (formatSize), so the field's megabytes are too

/** An RFC 3339 time as a datetime-local input's value, in the browser's time zone (`2026-12-01T18:00`). */
export function localInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}`;
}

let edit = null;

// Each field: its input's id, label and hint (a hint's id is the input's with `-hint`).
const FIELDS = {
  title: { id: "edit-title", label: "assignmentTitle" },
  instructions: { id: "edit-instructions", label: "instructions" },
  dueAt: { id: "edit-due", label: "dueAt" },
  closesAt: { id: "edit-closes", label: "closesAt", hint: "closesHint" },
  maxSize: { id: "edit-max-size", label: "maxSizeMb", hint: "maxSizeHint" },
  allowedTypes: { id: "edit-types", label: "allowedTypes", hint: "typesHint" },
};

function editDialog() {
  if (edit) return edit;
  const attributes = {
    title: { required: true, maxlength: 200 },
    instructions: { rows: 4, maxlength: 10000 },
    dueAt: { type: "datetime-local", required: true },
    closesAt: { type: "datetime-local" },
    maxSize: { type: "number", min: 0.001, step: "any", inputmode: "decimal" },
    allowedTypes: { autocomplete: "off", spellcheck: "false" },
  };
  const title = h("h2", { id: "assignment-edit-title" });
  const error = h("p", { id: "assignment-edit-error", class: "error", role: "alert" });
  const submit = h("button", { type: "submit", id: "assignment-edit-submit" });
  const cancel = h("button", { type: "button", class: "secondary", id: "assignment-edit-cancel" });
  const form = h("form", { method: "dialog", novalidate: true }, title);
  const inputs = {};
  const texts = [];
  for (const [name, { id, label, hint }] of Object.entries(FIELDS)) {
    const described = hint ? `${id}-hint ${error.id}` : error.id;
    const tag = name === "instructions" ? "textarea" : "input";
    inputs[name] = h(tag, { id, name, "aria-describedby": described, ...attributes[name] });
    const labelElement = h("label", { for: id });
    const hintElement = hint ? h("p", { id: `${id}-hint`, class: "meta" }) : null;
    texts.push([labelElement, label], ...(hint ? [[hintElement, hint]] : []));
    form.append(h("div", { class: "field" }, labelElement, inputs[name], hintElement));
  }
  form.append(error, h("div", { class: "actions" }, submit, cancel));
  const element = h("dialog", { id: "assignment-edit", "aria-labelledby": title.id }, form);
  document.body.append(element);
  edit = { element, title, inputs, texts, error, submit, cancel, current: null };
  cancel.addEventListener("click", () => element.close());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendEdit(edit);
  });
  element.addEventListener("close", () => {
    const current = edit.current;
    if (!current) return;
    edit.current = null;
    if (current.opener && current.opener.isConnected) current.opener.focus();
  });
  return edit;
}

/** The form's values as the API writes them (null: cleared), or `{problem, field}` when one cannot be sent. */
function values(inputs) {
  const title = inputs.title.value.trim();
  if (!title) return { problem: t("assignmentRefused_title"), field: "title" };
  if (!inputs.dueAt.value) return { problem: t("assignmentRefused_dueAt"), field: "dueAt" };
  const dueAt = toUtc(inputs.dueAt.value);
  const closesAt = inputs.closesAt.value ? toUtc(inputs.closesAt.value) : null;
  if (closesAt && closesAt < dueAt) return { problem: t("assignmentRefused_closesAt"), field: "closesAt" };
  let maxSize = null;
  if (inputs.maxSize.value.trim()) {
    maxSize = Math.round(Number(inputs.maxSize.value) * MB);
    if (!Number.isFinite(maxSize) || maxSize < 1) return { problem: t("assignmentRefused_maxSize"), field: "maxSize" };
  }
  const types = inputs.allowedTypes.value
    .split(/[\s,;]+/)
    .map((type) => type.trim().toLowerCase())
    .filter(Boolean);
  return {
    body: {
      title,
      instructions: inputs.instructions.value.trim() || null,
      dueAt,
      closesAt,
      maxSize,
      allowedTypes: types.length ? types : null,
    },
  };
}

/** Only what changed (the API takes any subset; two teachers editing different fields both keep theirs). */
function changes(assignment, body) {
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const instant = (value) => (value ? new Date(value).getTime() : null);
  const changed = {};
  for (const [name, value] of Object.entries(body)) {
    const before = assignment[name];
    const equal = name === "dueAt" || name === "closesAt" ? instant(before) === instant(value) : same(before, value);
    if (!equal) changed[name] = value;
  }
  return changed;
}

async function sendEdit(dialog) {
  const { assignment, onDone } = dialog.current;
  clearRefusal(dialog);
  const asked = values(dialog.inputs);
  if (asked.problem) {
    refuse(dialog, asked.problem, asked.field);
    return;
  }
  const body = changes(assignment, asked.body);
  if (!Object.keys(body).length) {
    dialog.element.close();
    return;
  }
  dialog.submit.disabled = true;
  let changed;
  try {
    changed = await api.request("PATCH", `/v1/assignments/${encodeURIComponent(assignment.id)}`, body);
  } catch (failure) {
    const field = refusedField(failure);
    refuse(dialog, field ? t(`assignmentRefused_${field}`) : errorText(failure), field || "title");
    return;
  } finally {
    dialog.submit.disabled = false;
  }
  announce(t("assignmentSaved", { title: changed.title }));
  dialog.element.close();
  onDone(changed);
}

/** Which field a 400 names: the API's message starts with it (`closesAt must not be before dueAt.`). */
function refusedField(failure) {
  if (failure.code !== "bad_request") return null;
  const first = (failure.message || "").split(/[\s:]/)[0];
  return Object.hasOwn(FIELDS, first) ? first : null;
}

function clearRefusal(dialog) {
  dialog.error.textContent = "";
  for (const input of Object.values(dialog.inputs)) input.removeAttribute("aria-invalid");
}

/** Why it cannot be done, in a sentence read out at once; the field concerned is marked and takes the focus. */
function refuse(dialog, text, field) {
  dialog.error.textContent = text;
  const input = dialog.inputs[field];
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

/** Edit `assignment`; `onDone(assignment)` gets the API's answer once the dialog has closed (the focus back on
 * `opener`). */
export function openAssignmentEdit(assignment, { opener, onDone }) {
  const dialog = editDialog();
  dialog.current = { assignment, opener, onDone };
  dialog.title.textContent = t("editAssignmentTitle", { title: assignment.title });
  for (const [element, key] of dialog.texts) element.textContent = t(key);
  dialog.submit.textContent = t("save");
  dialog.cancel.textContent = t("cancel");
  clearRefusal(dialog);
  const { inputs } = dialog;
  inputs.title.value = assignment.title;
  inputs.instructions.value = assignment.instructions || "";
  inputs.dueAt.value = localInput(assignment.dueAt);
  inputs.closesAt.value = localInput(assignment.closesAt);
  inputs.maxSize.value = assignment.maxSize ? String(assignment.maxSize / MB) : "";
  inputs.allowedTypes.value = (assignment.allowedTypes || []).join(", ");
  dialog.element.showModal();
  inputs.title.focus();
}

/** After a confirmation, the assignment and its submissions go to the trash; resolves true once done. */
export async function deleteAssignment(assignment, opener) {
  const sure = await confirmDialog({
    title: t("deleteAssignmentTitle"),
    text: t("deleteAssignmentText", { title: assignment.title }),
    confirm: t("deleteAssignment"),
    opener,
  });
  if (!sure) return false;
  await api.request("DELETE", `/v1/assignments/${encodeURIComponent(assignment.id)}`);
  announce(t("assignmentDeleted", { title: assignment.title }));
  return true;
}
