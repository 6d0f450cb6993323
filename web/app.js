// Cartable's web client: sign in, browse spaces, upload with progress, follow scans, share, collect homework.
import { Api } from "./api.js";
import { Auth } from "./auth.js";
import { initialLanguage, language, reasonText, setLanguage, t, translatePage, typesText } from "./i18n.js";
import { announce, formatDate, formatSize, h } from "./ui.js";

const LANG_KEY = "cartable.lang";
const NAMES_KEY = "cartable.names";

const auth = new Auth();
const api = new Api("", auth);
const state = { claims: null, names: new Map(), classes: null, view: 0 };

// -- start --------------------------------------------------------------------------------------
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

function signInErrorText(error) {
  return t(`signIn_${error.code}`, {}, null) || t("signInFailed");
}

function displayName(userId) {
  return state.names.get(userId) || userId;
}

function roleLabel(role) {
  return t(`role_${role}`);
}

function errorText(error) {
  const known = t(`error_${error.code}`, {}, null);
  if (known) return known;
  return error.message || t("error_generic");
}

function isStudent() {
  return state.claims && state.claims.role === "student";
}

async function myClasses() {
  if (!state.classes) state.classes = (await api.classes()).items;
  return state.classes;
}

// -- routing ------------------------------------------------------------------------------------
/** Show `hash`: a changed hash renders through `hashchange`, the same one renders again. */
function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function render({ focus = true, notice = null } = {}) {
  state.view += 1;
  const view = state.view;
  const main = document.getElementById("main");
  const present = Boolean(state.claims);
  document.getElementById("nav").hidden = !present;
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
  else if (name === "news") content = newsView();
  else if (name === "trash") content = trashView(args[0] || "me");
  else if (name === "classes") content = classesView();
  else if (name === "class" && args[0]) content = classView(args[0]);
  else if (name === "assignment" && args[1]) content = assignmentView(args[0], args[1]);
  else content = myFilesView();
  main.replaceChildren(content);
  if (focus && view > 1) main.focus();
}

/** A page section whose content loads asynchronously; errors show in place, as an alert. */
function loading(section, load) {
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

function page(title, ...children) {
  const heading = h("h1", { id: "page-title" }, title);
  const section = h("div", { class: "page" }, heading, ...children);
  document.title = `${title} — Cartable`;
  return section;
}

// -- sign in ------------------------------------------------------------------------------------
function signInView(notice) {
  const body = h("div", { class: "sign-in" });
  const view = page(t("signInTitle"), notice ? h("p", { class: "notice", role: "alert" }, notice) : null, body);
  loading(body, async () => {
    const provider = await auth.provider();
    if (!provider) {
      body.append(h("p", { class: "error", role: "alert" }, t("noProvider")));
      return;
    }
    const error = h("p", { class: "error", role: "alert" });
    const button = h(
      "button",
      {
        type: "button",
        class: "sign-in-button",
        onclick: async () => {
          button.disabled = true;
          error.textContent = "";
          try {
            await auth.signIn({ locale: language(), returnTo: "#/me" });
          } catch (failure) {
            error.textContent = signInErrorText(failure);
            button.disabled = false;
          }
        },
      },
      t("signInWithSchool"),
    );
    body.append(h("p", { class: "lead" }, t("providerIntro")), error, button);
  });
  return view;
}

// -- files --------------------------------------------------------------------------------------
function statusBadge(status, reason) {
  return [
    h("span", { class: `status status-${status}`, dataset: { status } }, t(`status_${status}`)),
    reason ? h("span", { class: "reason" }, reasonText(status, reason)) : null,
  ].filter(Boolean);
}

/** A table of files with their status, live-updatable row by row. */
class FileTable {
  constructor({ caption, showOwner = false, canShare = () => false, canDelete = () => false }) {
    this.showOwner = showOwner;
    this.canShare = canShare;
    this.canDelete = canDelete;
    this.body = h("tbody");
    this.empty = h("p", { class: "empty" }, t("noFiles"));
    const headers = [
      t("colName"),
      showOwner ? t("colOwner") : null,
      t("colSize"),
      t("colStatus"),
      t("colUpdated"),
      t("colActions"),
    ];
    this.table = h(
      "table",
      { class: "files" },
      h("caption", { class: "visually-hidden" }, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headers.filter(Boolean).map((text) => h("th", { scope: "col" }, text)),
        ),
      ),
      this.body,
    );
    this.element = h("div", { class: "table-wrap" }, this.table, this.empty);
    this.loaded = false; // "no files" only once the answer says so, never while it loads
    this.refreshEmpty();
  }

  refreshEmpty() {
    const none = this.body.children.length === 0;
    this.table.hidden = none;
    this.empty.hidden = !none || !this.loaded;
  }

  setFiles(files) {
    this.loaded = true;
    this.body.replaceChildren(...files.map((file) => this.row(file)));
    this.refreshEmpty();
  }

  remove(fileId) {
    const existing = this.body.querySelector(`tr[data-file-id="${CSS.escape(fileId)}"]`);
    if (existing) existing.remove();
    this.refreshEmpty();
  }

  /** To the trash, from where it comes back for 30 days. */
  deleteButton(file) {
    return h(
      "button",
      {
        type: "button",
        class: "secondary",
        "aria-label": t("deleteNamed", { name: file.name }),
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          try {
            await api.deleteFile(file.id);
            this.remove(file.id);
            announce(t("trashed", { name: file.name }));
          } catch (error) {
            button.disabled = false;
            announce(errorText(error));
          }
        },
      },
      t("delete"),
    );
  }

  upsert(file) {
    const row = this.row(file);
    const existing = this.body.querySelector(`tr[data-file-id="${CSS.escape(file.id)}"]`);
    if (existing) existing.replaceWith(row);
    else this.body.prepend(row);
    this.refreshEmpty();
  }

  row(file) {
    const cells = [
      h("th", { scope: "row", class: "name", "data-label": t("colName") }, file.name),
      this.showOwner ? h("td", { "data-label": t("colOwner") }, displayName(file.owner)) : null,
      h("td", { class: "nowrap", "data-label": t("colSize") }, formatSize(file.size, language())),
      h("td", { class: "status-cell", "data-label": t("colStatus") }, statusBadge(file.status, file.reason)),
      h("td", { "data-label": t("colUpdated") }, formatDate(file.updatedAt, language())),
      h(
        "td",
        { "data-label": t("colActions") },
        h(
          "div",
          { class: "row-actions" },
          fileActions(file, this.canShare(file)),
          this.canDelete(file) ? this.deleteButton(file) : null,
        ),
      ),
    ];
    return h("tr", { dataset: { fileId: file.id, status: file.status } }, cells);
  }
}

function downloadButton(file) {
  return h(
    "button",
    {
      type: "button",
      class: "secondary",
      disabled: file.status !== "available",
      "aria-label": t("downloadNamed", { name: file.name }),
      onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          await api.downloadFile(file.id, file.name);
          announce(t("downloaded", { name: file.name }));
        } catch (error) {
          announce(errorText(error));
        } finally {
          button.disabled = false;
        }
      },
    },
    t("download"),
  );
}

function fileActions(file, shareable) {
  return [
    downloadButton(file),
    shareable && file.status === "available"
      ? h(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-label": t("shareNamed", { name: file.name }),
            onclick: () => openShare(file),
          },
          t("share"),
        )
      : null,
  ];
}

let uploaderCount = 0;

/** Why an upload was refused before any byte left, as a sentence; `again`: the same file may simply be sent again. */
function refusal(error, file, limits) {
  const name = file.name;
  switch (error.code) {
    case "payload_too_large":
      return {
        text: limits && limits.maxSize
          ? t("refuse_too_large_max", { name, size: formatSize(file.size, language()), max: formatSize(limits.maxSize, language()) })
          : t("refuse_too_large", { name, size: formatSize(file.size, language()) }),
      };
    case "unsupported_media_type":
      return {
        text: limits && limits.allowedTypes
          ? t("refuse_type_allowed", { name, types: typesText(limits.allowedTypes) })
          : t("refuse_type", { name }),
      };
    case "quota_exceeded":
      return { text: t("refuse_quota", { name }) };
    case "network":
    case "aborted":
    case "storage_refused":
    case "too_many_requests":
    case "service_unavailable":
      return { text: errorText(error), again: true };
    default:
      return { text: errorText(error) };
  }
}

/** A file picker, a progress bar fed by XMLHttpRequest's upload events, and the scan's verdict, live. */
function uploader({ space, path = () => "/", heading, onFile, limits = null }) {
  uploaderCount += 1;
  const id = `upload-${uploaderCount}`;
  const input = h("input", { type: "file", id: `${id}-input`, name: "file", required: true });
  const button = h("button", { type: "submit" }, t("upload"));
  const progress = h("progress", { id: `${id}-progress`, max: 100, value: 0 });
  const percent = h("span", { class: "percent", "aria-hidden": "true" }, percentText(0));
  const progressLabel = h("label", { for: progress.id }, "");
  const progressBox = h(
    "div",
    { class: "progress", hidden: true },
    progressLabel,
    h("div", { class: "bar" }, progress, percent),
  );
  const verdict = h("p", { class: "verdict" });
  const error = h("p", { class: "error", role: "alert" });
  const again = h("div", { class: "row-actions retry", hidden: true });
  const headingId = `${id}-heading`;

  const clear = () => {
    error.textContent = "";
    again.hidden = true;
    again.replaceChildren();
  };
  /** The refusal in words, no progress bar left behind, and a way to try again. */
  const refused = (text, file, { resend = false } = {}) => {
    progressBox.hidden = true;
    error.textContent = text;
    const retry = resend ? [h("button", { type: "button", onclick: () => send(file) }, t("tryAgain"))] : [];
    again.replaceChildren(
      ...retry,
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => {
            form.reset();
            clear();
            verdict.replaceChildren();
            input.focus();
          },
        },
        t("chooseAnother"),
      ),
    );
    again.hidden = false;
  };

  async function send(file) {
    clear();
    verdict.replaceChildren();
    if (file.size === 0) {
      refused(t("refuse_empty", { name: file.name }), file);
      return;
    }
    button.disabled = true;
    input.disabled = true;
    progress.value = 0;
    percent.textContent = percentText(0);
    progressLabel.textContent = t("sending", { name: file.name });
    try {
      let grant;
      try {
        grant = await api.upload(file, space, path(), (fraction) => {
          const value = Math.round(fraction * 100);
          progressBox.hidden = false; // shown once bytes move, never before the grant
          progress.value = value;
          percent.textContent = percentText(value);
        });
      } catch (failure) {
        const why = refusal(failure, file, limits);
        refused(why.text, file, { resend: why.again });
        return;
      }
      announce(t("sent", { name: file.name }));
      onFile({
        id: grant.fileId,
        name: file.name,
        size: file.size,
        status: "pending",
        reason: null,
        owner: state.claims.sub,
        updatedAt: new Date().toISOString(),
      });
      const showVerdict = (upload) => {
        verdict.replaceChildren(
          h("span", {}, t("verdictOf", { name: file.name })),
          " ",
          ...statusBadge(upload.status, upload.reason),
        );
      };
      const done = await api.waitScanned(grant.uploadId, showVerdict);
      announce(t(`announce_${done.status}`, { name: file.name, reason: reasonText(done.status, done.reason) }));
      onFile(await api.file(grant.fileId));
      if (done.status === "rejected" || done.status === "infected") refused("", file);
      else form.reset();
    } catch (failure) {
      refused(errorText(failure), file);
    } finally {
      button.disabled = false;
      input.disabled = false;
    }
  }

  const form = h(
    "form",
    {
      class: "upload-form",
      onsubmit: (event) => {
        event.preventDefault();
        const file = input.files[0];
        clear();
        if (!file) {
          error.textContent = t("chooseFileFirst");
          input.focus();
          return;
        }
        send(file);
      },
    },
    h("label", { for: input.id }, t("chooseFile")),
    h("div", { class: "picker" }, input, button),
  );
  return h(
    "section",
    { class: "card uploader", "aria-labelledby": headingId },
    h("h2", { id: headingId }, heading),
    form,
    progressBox,
    verdict,
    error,
    again,
  );
}

function percentText(value) {
  return new Intl.NumberFormat(language(), { style: "percent" }).format(value / 100);
}

/** A space's folder: breadcrumbs, subfolders and files; an uploader when the caller may write. */
function spaceBrowser({ space, title, writable, canShare, canDelete, showOwner = false, uploadHeading }) {
  let path = "/";
  const crumbs = h("nav", { class: "crumbs", "aria-label": t("foldersLabel") });
  const folders = h("ul", { class: "folders" });
  const table = new FileTable({ caption: title, showOwner, canShare, canDelete });
  const listing = h(
    "section",
    { class: "card", "aria-labelledby": `${space}-list` },
    h("h2", { id: `${space}-list` }, title),
    crumbs,
    folders,
    table.element,
  );
  const parts = [];
  if (writable)
    parts.push(
      uploader({
        space,
        path: () => path,
        heading: uploadHeading || t("uploadHeading"),
        onFile: (file) => table.upsert(file),
      }),
    );
  parts.push(listing);
  const element = h("div", { class: "browser" }, ...parts);
  if (writable) listing.insertBefore(folderForm((name) => open(path === "/" ? `/${name}` : `${path}/${name}`)), table.element);

  async function open(next) {
    path = next;
    const answer = await api.folder(space, path);
    const segments = path.split("/").filter(Boolean);
    crumbs.replaceChildren(
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => open("/"),
          "aria-current": segments.length ? null : "location",
        },
        t("root"),
      ),
      ...segments.flatMap((segment, index) => {
        const target = `/${segments.slice(0, index + 1).join("/")}`;
        const last = index === segments.length - 1;
        return [
          h("span", { "aria-hidden": "true" }, " / "),
          h(
            "button",
            { type: "button", class: "link", onclick: () => open(target), "aria-current": last ? "location" : null },
            segment,
          ),
        ];
      }),
    );
    folders.replaceChildren(
      ...answer.folders.map((folder) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "folder", onclick: () => open(path === "/" ? `/${folder}` : `${path}/${folder}`) },
            `📁 ${folder}`,
          ),
        ),
      ),
    );
    table.setFiles(answer.items);
  }

  loading(listing, () => open("/"));
  return { element, table };
}

/** A new folder: folders exist through their files, so it is opened and stays until a file goes in. */
function folderForm(onCreate) {
  const input = h("input", { id: "new-folder", maxlength: 255, autocomplete: "off", spellcheck: "false" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "folder-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const name = input.value.trim().normalize("NFC");
        error.textContent = "";
        if (!name || name === "." || name === ".." || /[\/\\\u0000-\u001f\u007f]/.test(name)) {
          error.textContent = t("folderNameInvalid");
          input.focus();
          return;
        }
        await onCreate(name);
        form.reset();
        details.open = false;
        announce(t("folderOpened", { name }));
      },
    },
    h("label", { for: input.id }, t("folderName")),
    h("div", { class: "picker" }, input, h("button", { type: "submit" }, t("createFolder"))),
    error,
    h("p", { class: "meta" }, t("folderHint")),
  );
  const details = h("details", { class: "new-folder" }, h("summary", {}, t("newFolder")), form);
  return details;
}

function myFilesView() {
  const me = state.claims.sub;
  const browser = spaceBrowser({
    space: "me",
    title: t("myFilesList"),
    writable: true,
    canShare: (file) => file.owner === me,
    canDelete: (file) => file.owner === me,
  });
  const trash = h("p", { class: "trash-link" }, h("a", { href: "#/trash/me" }, t("openTrash")));
  return page(t("myFiles"), browser.element, trash);
}

/** What was deleted from a space, restorable until it is purged. */
function trashView(space) {
  const list = h("div");
  const section = h("section", { class: "card" }, h("p", { class: "lead" }, t("trashIntro")), list);
  loading(section, async () => {
    const answer = await api.trash(space);
    const empty = h("p", { class: "empty" }, t("trashEmpty"));
    if (!answer.items.length) {
      list.append(empty);
      return;
    }
    const items = h("ul", { class: "trash-list" });
    items.append(
      ...answer.items.map((file) => {
        const item = h(
          "li",
          { class: "trash-item", dataset: { fileId: file.id } },
          h("span", { class: "name" }, file.name),
          h(
            "span",
            { class: "meta" },
            t("trashedOn", {
              date: formatDate(file.trashedAt, language()),
              purge: formatDate(file.purgeAt, language()),
            }),
          ),
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              "aria-label": t("restoreNamed", { name: file.name }),
              onclick: async (event) => {
                event.currentTarget.disabled = true;
                try {
                  await api.restore(file.id);
                  item.remove();
                  if (!items.children.length) items.replaceWith(empty);
                  announce(t("restored", { name: file.name }));
                } catch (error) {
                  event.currentTarget.disabled = false;
                  announce(errorText(error));
                }
              },
            },
            t("restore"),
          ),
        );
        return item;
      }),
    );
    list.append(items);
  });
  const back = space === "me" ? h("p", {}, h("a", { href: "#/me" }, t("backToMyFiles"))) : null;
  return page(t("trash"), section, back);
}

function sharedView() {
  const list = h("div");
  const section = h("section", { class: "card" }, list);
  loading(section, async () => {
    const answer = await api.received();
    if (!answer.items.length) {
      list.append(h("p", { class: "empty" }, t("nothingShared")));
      return;
    }
    list.append(
      h(
        "ul",
        { class: "shared-list" },
        answer.items.map((share) =>
          h(
            "li",
            { class: "shared-item" },
            h("span", { class: "name" }, share.file.name),
            h(
              "span",
              { class: "meta" },
              t("sharedBy", { name: displayName(share.createdBy), role: t(`share_${share.role}`) }),
            ),
            share.expiresAt
              ? h("span", { class: "meta" }, t("until", { date: formatDate(share.expiresAt, language()) }))
              : null,
            downloadButton(share.file),
          ),
        ),
      ),
    );
  });
  return page(t("navShared"), section);
}

function newsText(item) {
  const kind = item.type === "submission.received" && item.late ? "submission.late" : item.type;
  const status = kind === "upload.rejected" ? "rejected" : "infected"; // a quarantined file's reason is a signature
  const values = { name: item.name, by: displayName(item.by || ""), reason: reasonText(status, item.reason) };
  return t(`news_${kind.replace(".", "_")}`, values);
}

function newsView() {
  const list = h("div");
  const section = h("section", { class: "card" }, list);
  loading(section, async () => {
    const answer = await api.notifications();
    // One's own material shows once: "is available" already says it.
    const mine = (item) => item.type === "material.added" && item.by === state.claims.sub;
    answer.items = answer.items.filter((item) => !mine(item));
    if (!answer.items.length) {
      list.append(h("p", { class: "empty" }, t("newsEmpty")));
      return;
    }
    list.append(
      h(
        "ul",
        { class: "news-list" },
        answer.items.map((item) =>
          h(
            "li",
            { class: "news-item", "data-type": item.type },
            h("span", { class: "name" }, newsText(item)),
            h("span", { class: "meta" }, formatDate(item.at, language())),
          ),
        ),
      ),
    );
  });
  return page(t("navNews"), section);
}

// -- classes and assignments --------------------------------------------------------------------
function classesView() {
  const list = h("ul", { class: "class-list" });
  const section = h("section", { class: "card" }, list);
  loading(section, async () => {
    const classes = await myClasses();
    if (!classes.length) list.replaceWith(h("p", { class: "empty" }, t("noClasses")));
    list.append(
      ...classes.map((klass) =>
        h(
          "li",
          {},
          h(
            "a",
            { class: "class-card", href: `#/class/${encodeURIComponent(klass.id)}` },
            h("span", { class: "class-name" }, klass.name),
            h("span", { class: "meta" }, t("teachers", { names: klass.teachers.map(displayName).join(", ") || "—" })),
          ),
        ),
      ),
    );
  });
  return page(t("navClasses"), section);
}

function teachesClass(klass) {
  return (
    state.claims.role === "admin" || (state.claims.role === "teacher" && klass.teachers.includes(state.claims.sub))
  );
}

function classView(classId) {
  const holder = h("div");
  const view = page(t("classTitle", { name: classId }), holder);
  loading(holder, async () => {
    const klass = (await myClasses()).find((c) => c.id === classId);
    if (!klass) throw Object.assign(new Error(), { code: "not_found" });
    const title = t("classTitle", { name: klass.name });
    view.querySelector("h1").textContent = title;
    document.title = `${title} — Cartable`;
    const teacher = teachesClass(klass);
    const assignments = h(
      "section",
      { class: "card", "aria-labelledby": "assignments-heading" },
      h("h2", { id: "assignments-heading" }, t("assignments")),
    );
    const list = h("ul", { class: "assignment-list" });
    assignments.append(list);
    const fill = async () => {
      const answer = await api.assignments(classId);
      list.replaceChildren(
        ...answer.items.map((a) =>
          h(
            "li",
            {},
            h("a", { href: `#/assignment/${encodeURIComponent(classId)}/${encodeURIComponent(a.id)}` }, a.title),
            h("span", { class: "meta" }, t("dueOn", { date: formatDate(a.dueAt, language()) })),
            new Date(a.dueAt) < new Date() ? h("span", { class: "badge badge-late" }, t("pastDue")) : null,
          ),
        ),
      );
      if (!answer.items.length) list.append(h("li", { class: "empty" }, t("noAssignments")));
    };
    await fill();
    if (teacher) assignments.append(assignmentForm(classId, fill));
    const browser = spaceBrowser({
      space: `class:${classId}`,
      title: t("classFolder"),
      writable: teacher,
      showOwner: true,
      canShare: () => teacher,
      uploadHeading: t("uploadToClass"),
    });
    holder.append(assignments, browser.element);
  });
  return view;
}

function toUtc(localValue) {
  return localValue ? new Date(localValue).toISOString().replace(/\.\d{3}Z$/, "Z") : null;
}

function assignmentForm(classId, refresh) {
  const error = h("p", { class: "error", role: "alert" });
  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  const title = h("input", { id: "new-title", required: true, maxlength: 200 });
  const due = h("input", { id: "new-due", type: "datetime-local", required: true });
  const closes = h("input", { id: "new-closes", type: "datetime-local" });
  const form = h(
    "form",
    {
      class: "assignment-form",
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = "";
        if (!title.value.trim() || !due.value) {
          error.textContent = t("assignmentMissing");
          return;
        }
        const body = { title: title.value.trim(), dueAt: toUtc(due.value) };
        if (closes.value) body.closesAt = toUtc(closes.value);
        try {
          await api.createAssignment(classId, body);
          announce(t("assignmentCreated", { title: body.title }));
          form.reset();
          await refresh();
        } catch (failure) {
          error.textContent = errorText(failure);
        }
      },
    },
    h("h3", {}, t("newAssignment")),
    field(title.id, t("assignmentTitle"), title),
    h("div", { class: "field-row" }, field(due.id, t("dueAt"), due), field(closes.id, t("closesAt"), closes)),
    error,
    h("button", { type: "submit" }, t("create")),
  );
  return h("details", { class: "new-assignment" }, h("summary", {}, t("newAssignment")), form);
}

function assignmentView(classId, assignmentId) {
  const holder = h("div");
  const view = page(t("assignment"), holder);
  loading(holder, async () => {
    const [klass, answer] = await Promise.all([
      myClasses().then((all) => all.find((c) => c.id === classId)),
      api.assignments(classId),
    ]);
    const assignment = answer.items.find((a) => a.id === assignmentId);
    if (!klass || !assignment) throw Object.assign(new Error(), { code: "not_found" });
    view.querySelector("h1").textContent = assignment.title;
    document.title = `${assignment.title} — Cartable`;
    const facts = h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("class")),
      h("dd", {}, h("a", { href: `#/class/${encodeURIComponent(classId)}` }, klass.name)),
      h("dt", {}, t("dueAt")),
      h("dd", {}, formatDate(assignment.dueAt, language())),
      assignment.closesAt
        ? [h("dt", {}, t("closesAt")), h("dd", {}, formatDate(assignment.closesAt, language()))]
        : null,
      assignment.allowedTypes
        ? [h("dt", {}, t("allowedTypes")), h("dd", {}, typesText(assignment.allowedTypes))]
        : null,
      assignment.maxSize ? [h("dt", {}, t("maxSize")), h("dd", {}, formatSize(assignment.maxSize, language()))] : null,
    );
    holder.append(h("section", { class: "card" }, facts));
    if (teachesClass(klass)) holder.append(submissionsPanel(assignment));
    else holder.append(...studentPanel(assignment));
  });
  return view;
}

function studentPanel(assignment) {
  const mine = h(
    "section",
    { class: "card", "aria-labelledby": "mine-heading" },
    h("h2", { id: "mine-heading" }, t("mySubmission")),
  );
  const lateNote = h("p", { class: "late-note" });
  const table = new FileTable({ caption: t("mySubmission"), canDelete: (file) => file.owner === state.claims.sub });
  const trash = h("p", { class: "trash-link" }, h("a", { href: `#/trash/${encodeURIComponent(assignment.space)}` }, t("openTrash")));
  mine.append(lateNote, table.element, trash);
  const refresh = async () => {
    const answer = await api.submissions(assignment.id);
    const own = answer.items[0];
    table.setFiles(own ? own.files : []);
    lateNote.replaceChildren(
      own
        ? h("span", { class: `badge ${own.late ? "badge-late" : "badge-ok"}` }, own.late ? t("late") : t("onTime"))
        : "",
      own ? ` ${t("submittedAt", { date: formatDate(own.submittedAt, language()) })}` : "",
    );
  };
  loading(mine, refresh);
  const upload = uploader({
    space: assignment.space,
    heading: t("turnIn"),
    limits: { maxSize: assignment.maxSize, allowedTypes: assignment.allowedTypes },
    onFile: (file) => {
      table.upsert(file);
      if (file.status !== "pending") refresh().catch(() => {});
    },
  });
  return [upload, mine];
}

function submissionsPanel(assignment) {
  const headingId = "submissions-heading";
  const error = h("p", { class: "error", role: "alert" });
  const zip = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        zip.disabled = true;
        error.textContent = "";
        announce(t("preparingZip"));
        try {
          await api.downloadArchive(assignment.id, `${assignment.title}.zip`);
          announce(t("downloaded", { name: `${assignment.title}.zip` }));
        } catch (failure) {
          error.textContent = errorText(failure);
        } finally {
          zip.disabled = false;
        }
      },
    },
    t("downloadZip"),
  );
  const body = h("tbody");
  const table = h(
    "table",
    { class: "submissions" },
    h("caption", { class: "visually-hidden" }, t("submissions")),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        [t("colStudent"), t("colFiles"), t("colSubmitted"), t("colLate")].map((text) =>
          h("th", { scope: "col" }, text),
        ),
      ),
    ),
    body,
  );
  const summary = h("p", { class: "meta" });
  const section = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("div", { class: "card-head" }, h("h2", { id: headingId }, t("submissions")), zip),
    summary,
    error,
    h("div", { class: "table-wrap" }, table),
  );
  loading(section, async () => {
    const answer = await api.submissions(assignment.id);
    const turnedIn = answer.items.filter((s) => !s.missing);
    summary.textContent = t("submissionCount", {
      count: turnedIn.length,
      late: turnedIn.filter((s) => s.late).length,
      missing: answer.items.length - turnedIn.length,
    });
    body.replaceChildren(
      ...answer.items.map((item) =>
        h(
          "tr",
          { dataset: { student: item.student } },
          h("th", { scope: "row", "data-label": t("colStudent") }, displayName(item.student)),
          h(
            "td",
            { "data-label": t("colFiles") },
            h(
              "ul",
              { class: "submitted-files" },
              item.files.map((file) =>
                h(
                  "li",
                  { dataset: { fileId: file.id } },
                  h("span", { class: "name" }, file.name),
                  " ",
                  statusBadge(file.status, file.reason),
                  " ",
                  downloadButton(file),
                ),
              ),
            ),
          ),
          h("td", { "data-label": t("colSubmitted") }, item.missing ? "—" : formatDate(item.submittedAt, language())),
          h("td", { "data-label": t("colLate") }, submissionBadge(item)),
        ),
      ),
    );
    table.hidden = !answer.items.length;
    zip.disabled = !turnedIn.length;
  });
  return section;
}

function submissionBadge(item) {
  if (item.missing) return h("span", { class: "badge badge-missing" }, t("missing"));
  return h("span", { class: `badge ${item.late ? "badge-late" : "badge-ok"}` }, item.late ? t("late") : t("onTime"));
}

// -- sharing ------------------------------------------------------------------------------------
let sharing = null;

function setupShareDialog() {
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

async function openShare(file) {
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

start();
