// Two modal dialogs, built once and reused: renaming or moving a file (PATCH /v1/files/{id}), and a confirmation.
import { api, errorText } from "./context.js";
import { t } from "./i18n.js";
import { announce, h } from "./ui.js";

/** Whether a name or a folder's segment breaks the contract's rule (the API has the last word: 400). */
function badSegment(name) {
  return !name || name.length > 255 || name === "." || name === ".." || /[/\u0000-\u001f\u007f]/.test(name);
}

/** A folder as the page writes it (`/`, `/Maths/Fractions`) from what was typed (`Maths/`, ` /Maths `) or what the
 * API wrote (`/Maths/Fractions/`), or null when a segment breaks the rule. */
export function folderPath(text) {
  const segments = text
    .trim()
    .split("/")
    .map((segment) => segment.trim().normalize("NFC"))
    .filter(Boolean);
  if (segments.some(badSegment)) return null;
  return `/${segments.join("/")}`;
}

export function folderLabel(path) {
  const folder = folderPath(path || "/") || path;
  return folder === "/" ? t("rootFolder") : folder;
}

let change = null;

function changeDialog() {
  if (change) return change;
  const title = h("h2", { id: "file-dialog-title" });
  const input = h("input", {
    id: "file-dialog-input",
    name: "value",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 1024,
    "aria-describedby": "file-dialog-hint file-dialog-error",
  });
  const label = h("label", { for: input.id });
  const folders = h("datalist", { id: "file-dialog-folders" });
  const hint = h("p", { id: "file-dialog-hint", class: "meta" });
  const error = h("p", { id: "file-dialog-error", class: "error", role: "alert" });
  const submit = h("button", { type: "submit", id: "file-dialog-submit" });
  const cancel = h("button", { type: "button", class: "secondary", id: "file-dialog-cancel" });
  const form = h(
    "form",
    { method: "dialog", novalidate: true },
    title,
    h("div", { class: "field" }, label, input, hint, folders),
    error,
    h("div", { class: "actions" }, submit, cancel),
  );
  const element = h("dialog", { id: "file-dialog", "aria-labelledby": title.id }, form);
  document.body.append(element);
  change = { element, title, input, label, folders, hint, error, submit, cancel, form, current: null };
  cancel.addEventListener("click", () => element.close());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendChange(change);
  });
  element.addEventListener("close", () => {
    const current = change.current;
    if (!current) return;
    change.current = null;
    if (current.opener && current.opener.isConnected) current.opener.focus();
    else if (current.focusAfter) current.focusAfter();
  });
  return change;
}

/** What the typed value asks of the API (`body`), nothing (`none`), or why it cannot be sent (`problem`). */
function requested(mode, file, value) {
  if (mode === "rename") {
    const name = value.trim().normalize("NFC");
    if (badSegment(name)) return { problem: t("nameInvalid") };
    return name === file.name ? { none: true } : { body: { name } };
  }
  const path = folderPath(value);
  if (path === null) return { problem: t("folderPathInvalid") };
  return path === folderPath(file.path || "/") ? { none: true } : { body: { path } };
}

async function sendChange(dialog) {
  const { mode, file, onDone } = dialog.current;
  dialog.error.textContent = "";
  dialog.input.removeAttribute("aria-invalid");
  const asked = requested(mode, file, dialog.input.value);
  if (asked.problem) {
    refuse(dialog, asked.problem);
    return;
  }
  if (asked.none) {
    dialog.element.close();
    return;
  }
  dialog.submit.disabled = true;
  try {
    const changed = await api.updateFile(file.id, asked.body);
    await onDone(changed);
    announce(
      mode === "rename"
        ? t("renamed", { name: file.name, newName: changed.name })
        : t("moved", { name: changed.name, folder: folderLabel(changed.path) }),
    );
    dialog.element.close();
  } catch (failure) {
    refuse(dialog, changeRefusal(failure, asked.body, file));
  } finally {
    dialog.submit.disabled = false;
  }
}

/** Why it cannot be done, in a sentence read out at once; the field is marked and keeps the focus. */
function refuse(dialog, text) {
  dialog.error.textContent = text;
  dialog.input.setAttribute("aria-invalid", "true");
  dialog.input.focus();
}

/** The API's refusal as a sentence: the name taken where it would go, a name it does not accept, or the usual. */
function changeRefusal(failure, body, file) {
  if (failure.code === "conflict") {
    return t("nameTaken", { name: body.name || file.name, folder: folderLabel(body.path || file.path || "/") });
  }
  if (failure.code === "bad_request") return t(body.name ? "nameRefused" : "folderPathInvalid");
  return errorText(failure);
}

/** Rename (`mode` "rename") or move ("move") `file`; `onDone(file)` gets the API's answer before the dialog closes,
 * then the focus goes back to `opener`, or, when that is gone with its row, to `focusAfter()`. */
export function openFileChange(mode, file, { opener, folders = ["/"], onDone, focusAfter }) {
  const dialog = changeDialog();
  dialog.current = { mode, file, opener, onDone, focusAfter };
  dialog.title.textContent = t(`${mode}Title`, { name: file.name });
  dialog.label.textContent = t(mode === "rename" ? "newName" : "destinationFolder");
  dialog.hint.textContent = mode === "rename" ? t("renameHint") : t("moveHint");
  dialog.submit.textContent = t(mode);
  dialog.cancel.textContent = t("cancel");
  dialog.error.textContent = "";
  dialog.input.removeAttribute("aria-invalid");
  dialog.folders.replaceChildren(...folders.map((path) => h("option", { value: path })));
  if (mode === "move") dialog.input.setAttribute("list", dialog.folders.id);
  else dialog.input.removeAttribute("list");
  dialog.input.value = mode === "rename" ? file.name : folderPath(file.path || "/") || "/";
  dialog.element.showModal();
  dialog.input.focus();
  if (mode === "rename") {
    const dot = file.name.lastIndexOf(".");
    dialog.input.setSelectionRange(0, dot > 0 ? dot : file.name.length); // the name, not its extension
  } else {
    dialog.input.select();
  }
}

let confirmation = null;

/** A yes/no question in a modal dialog; resolves true on `confirm`, false on cancel or Escape. The focus starts on
 * cancel (the safe answer) and goes back to `opener` unless the caller moves it. */
export function confirmDialog({ title, text, confirm, opener = document.activeElement }) {
  if (!confirmation) {
    const heading = h("h2", { id: "confirm-title" });
    const body = h("p", { id: "confirm-text" });
    const yes = h("button", { type: "button", id: "confirm-yes", class: "danger" });
    const no = h("button", { type: "button", id: "confirm-no", class: "secondary" });
    const element = h(
      "dialog",
      { id: "confirm-dialog", role: "alertdialog", "aria-labelledby": heading.id, "aria-describedby": body.id },
      heading,
      body,
      h("div", { class: "actions" }, yes, no),
    );
    document.body.append(element);
    confirmation = { element, heading, body, yes, no, answer: null };
    yes.addEventListener("click", () => {
      confirmation.answer = true;
      element.close();
    });
    no.addEventListener("click", () => element.close());
  }
  const dialog = confirmation;
  dialog.heading.textContent = title;
  dialog.body.textContent = text;
  dialog.yes.textContent = confirm;
  dialog.no.textContent = t("cancel");
  dialog.answer = false;
  return new Promise((resolve) => {
    dialog.element.addEventListener(
      "close",
      () => {
        if (opener && opener.isConnected) opener.focus();
        resolve(dialog.answer);
      },
      { once: true },
    );
    dialog.element.showModal();
    dialog.no.focus();
  });
}
