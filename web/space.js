// A space as the caller sees it (GET /v1/spaces/{space}): what the page offers there comes from its `can`, the
// room left from its `usage`; then its folders and files.
import { api, loading, state } from "./context.js";
import { folderPath } from "./filedialog.js";
import { FileTable } from "./files.js";
import { language, t } from "./i18n.js";
import { announce, formatSize, h } from "./ui.js";
import { uploader } from "./uploader.js";

const NOTHING = { read: false, upload: false, delete: false, share: false };

/** What the caller may do to one file of a space described by `info` (null while it loads: nothing).
 * The API's `can` is about the caller's own files where they may add files (their drive, a class folder they
 * teach, their own submission) and about the space's files elsewhere. A file carries no rights of its own in the
 * API's answers, so where `can` speaks of one's own files, someone else's file there gets the narrowest rule:
 * nothing beyond reading it (a teacher does not rename or delete a colleague's material from the page).
 * Rename and move are a write: the API checks the delete right (`can.delete`), refuses them in an assignment past
 * its closing date (where `can.upload` turns false) and for a file that is not available (409 not_available). */
export function fileRules(info) {
  const can = info ? info.can : NOTHING;
  const reaches = (file) => !can.upload || file.owner === state.claims.sub;
  return {
    canShare: (file) => can.share && reaches(file),
    canDelete: (file) => can.delete && reaches(file),
    canChange: (file) => can.delete && can.upload && reaches(file) && file.status === "available",
  };
}

let meters = 0;

/** The space's use of its quota: a meter with its label and the sizes in words (only the bytes when no quota). */
export function usageMeter() {
  meters += 1;
  const id = `usage-${meters}`;
  const element = h("div", { class: "usage", hidden: true });
  return {
    element,
    show(usage) {
      element.hidden = !usage;
      if (!usage) return;
      const used = formatSize(usage.bytes, language());
      if (usage.quota === null || usage.quota === undefined) {
        element.replaceChildren(h("p", { class: "meta usage-text" }, t("usageOnly", { used })));
        return;
      }
      const quota = usage.quota;
      const text = h(
        "span",
        { class: "meta usage-text", id: `${id}-text` },
        t("usageOf", { used, quota: formatSize(quota, language()) }),
      );
      const meter = h("meter", {
        id,
        min: 0,
        max: Math.max(quota, 1),
        value: Math.min(usage.bytes, quota),
        low: Math.round(quota * 0.8),
        high: Math.round(quota * 0.95),
        optimum: 0,
        "aria-describedby": text.id,
      });
      element.replaceChildren(h("label", { for: id }, t("spaceUsed")), meter, text);
    },
  };
}

/** A space's folder: breadcrumbs, subfolders and files. Until the space answers, no action is offered; then an
 * uploader, a new folder and each file's actions as its `can` says, and its usage where uploads count against it. */
export function spaceBrowser({ space, title, showOwner = false, uploadHeading }) {
  let path = "/";
  let info = null;
  let subfolders = [];
  const rules = () => fileRules(info);
  const crumbs = h("nav", { class: "crumbs", "aria-label": t("foldersLabel") });
  const folders = h("ul", { class: "folders" });
  const table = new FileTable({
    caption: title,
    showOwner,
    canShare: (file) => rules().canShare(file),
    canDelete: (file) => rules().canDelete(file),
    canChange: (file) => rules().canChange(file),
    // Renamed where it is: the row changes in place; moved away: the folder is read again (its subfolders too).
    onChanged: (file) => (folderPath(file.path || "/") === path ? table.upsert(file) : open(path)),
    folders: () => knownFolders(path, subfolders),
  });
  const listing = h(
    "section",
    { class: "card", "aria-labelledby": `${space}-list` },
    h("h2", { id: `${space}-list`, tabindex: -1 }, title),
    crumbs,
    folders,
    table.element,
  );
  table.focusAfter = () => listing.querySelector("h2").focus();
  const usage = usageMeter();
  const element = h("div", { class: "browser" }, listing);
  const refreshUsage = () =>
    api
      .space(space)
      .then((answer) => {
        info = answer;
        usage.show(answer.can.upload ? answer.usage : null);
      })
      .catch(() => {});

  /** What the space allows, once known: the uploader (with the usage it counts against) and the new folder. */
  function apply(answer) {
    info = answer;
    if (!answer.can.upload) return;
    const upload = uploader({
      space,
      path: () => path,
      heading: uploadHeading || t("uploadHeading"),
      onFile: (file) => {
        table.upsert(file);
        if (file.status !== "pending") refreshUsage();
      },
    });
    upload.insertBefore(usage.element, upload.children[1]);
    usage.show(answer.usage);
    element.prepend(upload);
    listing.insertBefore(folderForm((name) => open(path === "/" ? `/${name}` : `${path}/${name}`)), table.element);
  }

  function show(next, answer) {
    path = next;
    subfolders = answer.folders;
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

  async function open(next) {
    show(next, await api.folder(space, next));
  }

  // Both asked at once; the files show with the actions the space allows, never before them.
  loading(listing, async () => {
    const [answer, files] = await Promise.all([api.space(space), api.folder(space, "/")]);
    apply(answer);
    show("/", files);
  });
  return { element, table };
}

/** Where a move may go, as the page knows the space: the root, the folders above this one, it and its subfolders. */
function knownFolders(path, subfolders) {
  const segments = path.split("/").filter(Boolean);
  const above = segments.map((_, index) => `/${segments.slice(0, index + 1).join("/")}`);
  const below = subfolders.map((name) => (path === "/" ? `/${name}` : `${path}/${name}`));
  return [...new Set(["/", ...above, ...below])];
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
