// Cartable's web client: starts the session, then routes `#/...` to its views (one module per view).
import { api, auth, displayName, roleLabel, state } from "./context.js";
import { initialLanguage, language, setLanguage, t, translatePage } from "./i18n.js";
import { setupShareDialog } from "./sharing.js";
import { announce } from "./ui.js";
import { adminView } from "./view-admin.js";
import { assignmentView, classView, classesView } from "./view-classes.js";
import { givenView } from "./view-given.js";
import { myFilesView, trashView } from "./view-me.js";
import { newsView } from "./view-news.js";
import { sharedView } from "./view-shared.js";
import { signInErrorText, signInView } from "./view-signin.js";

const LANG_KEY = "cartable.lang";
const NAMES_KEY = "cartable.names";

async function start() {
  setLanguage(localStorage.getItem(LANG_KEY) || initialLanguage(navigator.languages || [navigator.language]));
  const select = document.getElementById("lang-select");
  select.value = language();
  select.addEventListener("change", () => {
    setLanguage(select.value);
    localStorage.setItem(LANG_KEY, select.value);
    translatePage();
    render({ focus: false });
  });
  translatePage();
  try {
    state.names = new Map(JSON.parse(sessionStorage.getItem(NAMES_KEY) || "[]"));
  } catch {
    state.names = new Map();
  }
  api.onUnauthorized = () => signOut(t("sessionExpired"));
  auth.onChange = (session) => {
    if (session) state.claims = auth.claims;
    else signOut(t("sessionExpired"));
  };
  document.getElementById("sign-out").addEventListener("click", () => signOut());
  setupShareDialog();
  let notice = null;
  let back = false;
  try {
    // Back from the identity provider: exchange the code, or say why signing in failed.
    back = Boolean(await auth.completeSignIn());
    if (back) await signedIn({ quiet: false });
  } catch (error) {
    notice = signInErrorText(error);
  }
  if (!state.claims && auth.restore()) await signedIn({ quiet: true });
  window.addEventListener("hashchange", () => render());
  render({ notice });
  if (back) document.getElementById("main").focus(); // where the keyboard left off: the page itself
}

/** The session is there: who is signed in, and the names of the people they will see. */
async function signedIn({ quiet }) {
  state.claims = auth.claims;
  state.classes = null;
  if (auth.name) state.names.set(state.claims.sub, auth.name);
  const demo = await api.demoUsers().catch(() => null); // stage local: the demo school's names
  if (demo) for (const user of demo.items) state.names.set(user.id, user.name);
  sessionStorage.setItem(NAMES_KEY, JSON.stringify([...state.names]));
  if (!quiet) announce(t("signedInAs", { name: displayName(state.claims.sub) }));
}

/** With a message (the session ended by itself): back to the sign-in view. Otherwise the provider signs out too. */
async function signOut(message) {
  state.claims = null;
  state.classes = null;
  if (message) auth.forget();
  else if (await auth.signOut({ locale: language() })) return; // off to the provider, which sends people back
  if (location.hash !== "#/") history.replaceState(null, "", `${location.pathname}#/`);
  render({ notice: message });
}

function render({ focus = true, notice = null } = {}) {
  state.view += 1;
  const view = state.view;
  const main = document.getElementById("main");
  const present = Boolean(state.claims);
  document.getElementById("nav").hidden = !present;
  // The office's link is for the school office; what each may do there, the API says (403 otherwise).
  document.querySelector('#nav a[data-view="admin"]').hidden = !present || state.claims.role !== "admin";
  document.getElementById("sign-out").hidden = !present;
  const who = document.getElementById("who");
  who.hidden = !present;
  if (present) {
    who.textContent = `${displayName(state.claims.sub)} · ${roleLabel(state.claims.role)}`;
  }
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const link of document.querySelectorAll("#nav a")) {
    const current =
      link.dataset.view === (name === "trash" ? "me" : name || "me") ||
      (link.dataset.view === "classes" && ["class", "assignment"].includes(name));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  let content;
  if (!present) content = signInView(notice);
  else if (name === "shared") content = sharedView();
  else if (name === "given") content = givenView();
  else if (name === "news") content = newsView();
  else if (name === "admin") content = adminView();
  else if (name === "trash") content = trashView(args[0] || "me");
  else if (name === "classes") content = classesView();
  else if (name === "class" && args[0]) content = classView(args[0]);
  else if (name === "assignment" && args[1]) content = assignmentView(args[0], args[1]);
  else content = myFilesView();
  main.replaceChildren(content);
  if (focus && view > 1) main.focus();
}

start();
