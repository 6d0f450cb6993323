// The share dialog (index.html's <dialog>): with a class or a person, viewer or editor, until a date.
import { api, displayName, errorText, myClasses, toUtc } from "./context.js";
import { t } from "./i18n.js";
import { announce, h } from "./ui.js";

let sharing = null;

export function setupShareDialog() {
  const dialog = document.getElementById("share-dialog");
  const form = document.getElementById("share-form");
  const classField = document.getElementById("share-class-field");
  const userField = document.getElementById("share-user-field");
  const error = document.getElementById("share-error");
  for (const radio of form.elements.target) {
    radio.addEventListener("change", () => {
      const toClass = form.elements.target.value === "class";
      classField.hidden = !toClass;
      userField.hidden = toClass;
    });
  }
  document.getElementById("share-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const toClass = form.elements.target.value === "class";
    const id = toClass ? form.elements.class.value : form.elements.user.value.trim();
    if (!id) {
      error.textContent = t("shareMissing");
      (toClass ? form.elements.class : form.elements.user).focus();
      return;
    }
    const expires = form.elements.expires.value ? toUtc(`${form.elements.expires.value}T23:59`) : null;
    try {
      await api.share(sharing.id, { type: toClass ? "class" : "user", id }, form.elements.role.value, expires);
      dialog.close();
      announce(t("sharedDone", { name: sharing.name, target: toClass ? id : displayName(id) }));
    } catch (failure) {
      error.textContent = errorText(failure);
    }
  });
  dialog.addEventListener("close", () => {
    if (sharing && sharing.opener) sharing.opener.focus();
  });
}

export async function openShare(file) {
  sharing = { ...file, opener: document.activeElement };
  const dialog = document.getElementById("share-dialog");
  const form = document.getElementById("share-form");
  form.reset();
  document.getElementById("share-class-field").hidden = false;
  document.getElementById("share-user-field").hidden = true;
  document.getElementById("share-error").textContent = "";
  document.getElementById("share-title").textContent = t("shareTitle", { name: file.name });
  const select = document.getElementById("share-class");
  try {
    const classes = await myClasses();
    select.replaceChildren(...classes.map((klass) => h("option", { value: klass.id }, klass.name)));
  } catch {
    select.replaceChildren();
  }
  dialog.showModal();
}
