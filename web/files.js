// Files as every view shows them: status badges, the live file table, downloads, the uploader, a space's folders.
import { api, displayName, errorText, loading, state } from "./context.js";
import { language, reasonText, t, typesText } from "./i18n.js";
import { openShare } from "./sharing.js";
import { announce, formatDate, formatSize, h } from "./ui.js";

export function statusBadge(status, reason) {
  return [
    h("span", { class: `status status-${status}`, dataset: { status } }, t(`status_${status}`)),
    reason ? h("span", { class: "reason" }, reasonText(status, reason)) : null,
  ].filter(Boolean);
}

/** A table of files with their status, live-updatable row by row. */
export class FileTable {
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
        file.version > 1 ? versionsOf(file) : null,
      ),
    ];
    return h("tr", { dataset: { fileId: file.id, status: file.status } }, cells);
  }
}

/** A file's earlier versions, listed when opened, each downloadable. */
function versionsOf(file) {
  const list = h("ul", { class: "versions" });
  const details = h(
    "details",
    { class: "versions-of" },
    h("summary", { "aria-label": t("versionsOf", { name: file.name }) }, t("versions", { count: file.version })),
    list,
  );
  details.addEventListener("toggle", () => {
    if (!details.open || list.dataset.loaded) return;
    list.dataset.loaded = "yes";
    loading(list, async () => {
      const answer = await api.versions(file.id);
      list.append(
        ...answer.items.map((version) => {
          const current = version.version === file.version;
          const label = t(current ? "versionCurrent" : "versionN", { n: version.version });
          return h(
            "li",
            { dataset: { version: version.version } },
            h("span", { class: "name" }, label),
            " ",
            h(
              "span",
              { class: "meta" },
              `${formatSize(version.size, language())} · ${formatDate(version.createdAt, language())}`,
            ),
            " ",
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": t("downloadVersion", { n: version.version, name: file.name }),
                onclick: async (event) => {
                  const button = event.currentTarget;
                  button.disabled = true;
                  try {
                    await api.downloadVersion(file.id, current ? null : version.version, file.name);
                    announce(t("downloaded", { name: file.name }));
                  } catch (error) {
                    announce(errorText(error));
                  } finally {
                    button.disabled = false;
                  }
                },
              },
              t("download"),
            ),
          );
        }),
      );
    });
  });
  return details;
}

export function downloadButton(file) {
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
export function uploader({ space, path = () => "/", heading, onFile, limits = null }) {
  uploaderCount += 1;
  const id = `upload-${uploaderCount}`;
  const input = h("input", { type: "file", id: `${id}-input`, name: "file", required: true });
  // A tablet opens its camera for this one: a photo of paper homework goes straight up.
  const camera = h("input", { type: "file", id: `${id}-camera`, accept: "image/*", capture: "environment" });
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
    camera.disabled = true;
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
      camera.disabled = false;
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
    h("p", { class: "meta drop-hint" }, t("dropHint")),
    h("label", { for: camera.id, class: "camera-label" }, t("takePhoto")),
    h("div", { class: "picker" }, camera),
  );
  camera.addEventListener("change", () => {
    if (camera.files[0]) send(camera.files[0]);
  });
  const section = h(
    "section",
    { class: "card uploader", "aria-labelledby": headingId },
    h("h2", { id: headingId }, heading),
    form,
    progressBox,
    verdict,
    error,
    again,
  );
  // Drag and drop: a file dropped anywhere on the card is sent as if chosen (the picker stays the keyboard's way).
  section.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    section.classList.add("dragging");
  });
  section.addEventListener("dragleave", (event) => {
    if (!section.contains(event.relatedTarget)) section.classList.remove("dragging");
  });
  section.addEventListener("drop", (event) => {
    event.preventDefault();
    section.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file && !button.disabled) send(file);
  });
  return section;
}

function percentText(value) {
  return new Intl.NumberFormat(language(), { style: "percent" }).format(value / 100);
}

/** A space's folder: breadcrumbs, subfolders and files; an uploader when the caller may write. */
export function spaceBrowser({ space, title, writable, canShare, canDelete, showOwner = false, uploadHeading }) {
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
