// What every view shares: the session (auth, api, state), names, errors in words, and page scaffolding.
import { Api } from "./api.js";
import { Auth } from "./auth.js";
import { t } from "./i18n.js";
import { h } from "./ui.js";

export const auth = new Auth();
export const api = new Api("", auth);
export const state = { claims: null, names: new Map(), classes: null, view: 0 };

export function displayName(userId) {
  return state.names.get(userId) || userId;
}

export function roleLabel(role) {
  return t(`role_${role}`);
}

export function errorText(error) {
  const known = t(`error_${error.code}`, {}, null);
  if (known) return known;
  return error.message || t("error_generic");
}

export async function myClasses() {
  if (!state.classes) state.classes = (await api.classes()).items;
  return state.classes;
}

/** A page section whose content loads asynchronously; errors show in place, as an alert. */
export function loading(section, load) {
  const view = state.view;
  const status = h("p", { class: "loading" }, t("loading"));
  section.append(status);
  load()
    .then(() => status.remove())
    .catch((error) => {
      if (view !== state.view) return;
      status.replaceWith(h("p", { class: "error", role: "alert" }, errorText(error)));
    });
  return section;
}

export function page(title, ...children) {
  const heading = h("h1", { id: "page-title" }, title);
  const section = h("div", { class: "page" }, heading, ...children);
  document.title = `${title} — Cartable`;
  return section;
}

export function toUtc(localValue) {
  return localValue ? new Date(localValue).toISOString().replace(/\.\d{3}Z$/, "Z") : null;
}
