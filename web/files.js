// Files as every view shows them: status badges, the live file table with each file's actions, downloads.
import { api, displayName, errorText, loading } from "./context.js";
import { openFileChange } from "./filedialog.js";
import { language, reasonText, t } from "./i18n.js";
import { openShare } from "./sharing.js";
import { announce, formatDate, formatSize, h } from "./ui.js";

export function statusBadge(status, reason) {
  return [
    h("span", { class: `status status-${status}`, dataset: { status } }, t(`status_${status}`)),
    reason ? h("span", { class: "reason" }, reasonText(status, reason)) : null,
  ].filter(Boolean);
}

/** A table of files with their status, live-updatable row by row. `canShare`, `canDelete`, `canChange` (rename,
 * and move unless `moves` is false) say which actions a file's row offers; `onChanged(file)` follows a rename or a
 * move, `folders()` lists the folders a move may go to. */
export class FileTable {
  constructor({
    caption,
    showOwner = false,
    canShare = () => false,
    canDelete = () => false,
    canChange = () => false,
    onChanged = () => {},
    folders = () => ["/"],
    moves = true,
  }) {
    this.showOwner = showOwner;
    this.canShare = canShare;
    this.canDelete = canDelete;
    this.canChange = canChange;
    this.onChanged = onChanged;
    this.folders = folders;
    this.moves = moves;
    this.focusAfter = null; // where the focus goes when a file's row leaves after a move
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

  /** "Rename" or "Move" (`mode`): a dialog, then the row follows what the API answered. */
  changeButton(file, mode) {
    return h(
      "button",
      {
        type: "button",
        class: "secondary",
        "aria-label": t(`${mode}Named`, { name: file.name }),
        dataset: { action: mode },
        onclick: (event) =>
          openFileChange(mode, file, {
            opener: event.currentTarget,
            folders: this.folders(),
            onDone: this.onChanged,
            focusAfter: () => this.focusAfterChange(file.id, mode),
          }),
      },
      t(mode),
    );
  }

  /** After a rename its row is drawn anew: the focus goes to the same button there; after a move away, to `focusAfter`. */
  focusAfterChange(fileId, mode) {
    const row = this.body.querySelector(`tr[data-file-id="${CSS.escape(fileId)}"]`);
    const button = row && row.querySelector(`button[data-action="${mode}"]`);
    if (button) button.focus();
    else if (this.focusAfter) this.focusAfter();
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
          this.canChange(file) ? this.changeButton(file, "rename") : null,
          this.canChange(file) && this.moves ? this.changeButton(file, "move") : null,
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
