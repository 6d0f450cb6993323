// The school office (role `admin`): the roster from a CSV with a preview and per-line errors, the year close
// as a job with its counts, and the audit trail filtered by person. The API decides who may: a 403 says so.
import { api, displayName, errorText, loading, page } from "./context.js";
import { language, plural, t } from "./i18n.js";
import { announce, formatDate, h } from "./ui.js";

const PREVIEW_LINES = 20;

/** The children that are there (replaceChildren would write "null"). */
function present(...children) {
  return children.filter((child) => child !== null && child !== undefined);
}

/** The lines of a CSV as cells (quoted cells with commas and doubled quotes included), for the preview only. */
export function csvRows(text) {
  const rows = [];
  for (const line of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    if (!line.trim()) continue;
    const cells = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < line.length; i += 1) {
      const c = line[i];
      if (quoted && c === '"' && line[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') {
        quoted = !quoted;
      } else if (c === "," && !quoted) {
        cells.push(cell);
        cell = "";
      } else {
        cell += c;
      }
    }
    cells.push(cell);
    rows.push(cells);
  }
  return rows;
}

function table(caption, headers, rows, attributes = {}) {
  // A box that may scroll sideways: the keyboard can reach it to scroll it (WCAG 2.1.1), named by its caption.
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "group", "aria-label": caption },
    h(
      "table",
      { class: "files", ...attributes },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows),
    ),
  );
}

function rosterSection() {
  const input = h("input", { type: "file", id: "roster-file", accept: ".csv,text/csv,text/plain" });
  const preview = h("div", { class: "roster-preview" });
  const result = h("div", { class: "roster-result", role: "status" });
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit", disabled: true }, t("rosterImport"));
  let text = null;
  input.addEventListener("change", async () => {
    error.textContent = "";
    result.replaceChildren();
    const file = input.files[0];
    text = file ? await file.text() : null;
    button.disabled = !text;
    if (!text) {
      preview.replaceChildren();
      return;
    }
    const rows = csvRows(text);
    const [head, ...lines] = rows;
    preview.replaceChildren(
      h("p", { class: "meta" }, plural("rosterLines", lines.length)),
      table(
        t("rosterPreview"),
        [t("colLine"), ...(head || [])],
        lines.slice(0, PREVIEW_LINES).map((cells, index) =>
          h("tr", {}, h("td", {}, String(index + 2)), cells.map((cell) => h("td", {}, cell))),
        ),
      ),
    );
  });
  const form = h(
    "form",
    {
      class: "roster-form",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!text) return;
        button.disabled = true;
        error.textContent = "";
        result.replaceChildren(h("progress", { "aria-label": t("rosterImporting") }));
        try {
          const answer = await api.importRoster(text);
          const summary = t("rosterDone", {
            classes: plural("classCount", answer.classes),
            members: plural("memberCount", answer.members),
          });
          result.replaceChildren(
            ...present(h("p", {}, summary),
            answer.errors.length
              ? table(
                  plural("rosterErrors", answer.errors.length),
                  [t("colLine"), t("colProblem")],
                  answer.errors.map((item) =>
                    h("tr", { dataset: { line: item.line } }, h("td", {}, String(item.line)), h("td", {}, item.message)),
                  ),
                  { "data-errors": "" },
                )
              : null,
            ),
          );
          announce(summary);
        } catch (failure) {
          result.replaceChildren();
          error.textContent = errorText(failure);
        } finally {
          button.disabled = false;
        }
      },
    },
    h("p", { class: "lead" }, t("rosterIntro")),
    h("label", { for: input.id }, t("rosterFile")),
    h("div", { class: "picker" }, input, button),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "roster-heading" },
    h("h2", { id: "roster-heading" }, t("rosterTitle")),
    form,
    preview,
    error,
    result,
  );
}

function yearCloseSection() {
  const year = h("input", { id: "close-year", required: true, pattern: "[0-9A-Za-z_-]{1,32}", placeholder: "2025-2026" });
  const sure = h("input", { type: "checkbox", id: "close-sure", required: true });
  const result = h("div", { class: "year-result", role: "status" });
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit" }, t("closeYear"));
  const form = h(
    "form",
    {
      class: "year-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = "";
        if (!/^[0-9A-Za-z_-]{1,32}$/.test(year.value.trim()) || !sure.checked) {
          error.textContent = t("closeYearMissing");
          return;
        }
        button.disabled = true;
        result.replaceChildren(h("label", { for: "year-progress" }, t("closingYear")), h("progress", { id: "year-progress" }));
        try {
          const job = await api.waitJob(await api.closeYear(year.value.trim()));
          if (job.status !== "ready") throw Object.assign(new Error(), { code: job.reason || "generic" });
          const counts = job.result || {};
          const summary = t("yearClosed", {
            year: counts.year,
            classes: plural("classCount", counts.classes || 0),
            assignments: plural("assignmentCount", counts.assignments || 0),
            shares: plural("shareCount", counts.sharesEnded || 0),
          });
          result.replaceChildren(h("p", {}, summary));
          announce(summary);
        } catch (failure) {
          result.replaceChildren();
          error.textContent = errorText(failure);
        } finally {
          button.disabled = false;
        }
      },
    },
    h("p", { class: "lead" }, t("closeYearIntro")),
    h("div", { class: "field" }, h("label", { for: year.id }, t("closeYearName")), year),
    h("label", { class: "choice", for: sure.id }, sure, " ", t("closeYearSure")),
    error,
    button,
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "year-heading" },
    h("h2", { id: "year-heading" }, t("closeYearTitle")),
    form,
    result,
  );
}

function auditSection() {
  const who = h("input", { id: "audit-user", autocomplete: "off", spellcheck: "false" });
  const list = h("div");
  const show = async () => {
    const answer = await api.audit(who.value.trim() || null);
    list.replaceChildren(
      answer.items.length
        ? table(
            t("auditTitle"),
            [t("colWhen"), t("colWho"), t("colAction"), t("colTarget"), t("colDecision")],
            answer.items.map((entry) =>
              h(
                "tr",
                { dataset: { decision: entry.decision } },
                h("td", {}, formatDate(entry.at, language())),
                h("td", {}, displayName(entry.actor)),
                h("td", {}, entry.action),
                h("td", {}, entry.target),
                h("td", {}, t(`decision_${entry.decision}`)),
              ),
            ),
          )
        : h("p", { class: "empty" }, t("auditEmpty")),
    );
  };
  const form = h(
    "form",
    {
      class: "audit-form",
      onsubmit: (event) => {
        event.preventDefault();
        list.replaceChildren();
        loading(list, show);
      },
    },
    h("label", { for: who.id }, t("auditWho")),
    h("div", { class: "picker" }, who, h("button", { type: "submit", class: "secondary" }, t("auditShow"))),
  );
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "audit-heading" },
    h("h2", { id: "audit-heading" }, t("auditTitle")),
    form,
    list,
  );
  loading(list, show);
  return section;
}

/** One person's files as a ZIP (right of access), built as a job, then a download button. */
function exportSection() {
  const who = h("input", { id: "export-user", required: true, autocomplete: "off", spellcheck: "false" });
  const status = h("div", { class: "export-status", role: "status" });
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit", class: "secondary" }, t("exportPrepare"));
  const form = h(
    "form",
    {
      class: "export-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const user = who.value.trim();
        error.textContent = "";
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(user)) {
          error.textContent = t("exportWhoMissing");
          who.focus();
          return;
        }
        button.disabled = true;
        status.replaceChildren(h("label", { for: "export-progress" }, t("exportPreparing")), h("progress", { id: "export-progress" }));
        try {
          const job = await api.waitJob(await api.exportUser(user));
          if (job.status !== "ready") throw Object.assign(new Error(), { code: job.reason || "generic" });
          const name = `${user}.zip`;
          const download = h(
            "button",
            {
              type: "button",
              onclick: async () => {
                try {
                  await api.downloadJob(job.id, name);
                  announce(t("downloaded", { name }));
                } catch (failure) {
                  error.textContent = errorText(failure);
                }
              },
            },
            t("exportDownload", { name: displayName(user) }),
          );
          status.replaceChildren(download);
          download.focus();
        } catch (failure) {
          status.replaceChildren();
          error.textContent = errorText(failure);
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", { for: who.id }, t("exportWho")),
    h("div", { class: "picker" }, who, button),
    error,
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "export-heading" },
    h("h2", { id: "export-heading" }, t("exportTitle")),
    form,
    status,
  );
}

/** What the school's retention would remove on a date: a dry run, nothing changes. */
function retentionSection() {
  const date = h("input", { id: "retention-date", type: "date" });
  const list = h("div");
  const show = async () => {
    const answer = await api.retention(date.value || null);
    if (answer.retentionDays === null) {
      list.replaceChildren(h("p", { class: "empty" }, t("retentionUnset")));
      return;
    }
    list.replaceChildren(
      ...present(
        h("p", {}, plural("retentionFiles", answer.items.length, { days: answer.retentionDays })),
      answer.items.length
        ? table(
            t("retentionTitle"),
            [t("colName"), t("colOwner"), t("class"), t("retentionPurge")],
            answer.items.map((item) =>
              h(
                "tr",
                {},
                h("td", {}, item.name),
                h("td", {}, displayName(item.owner)),
                h("td", {}, item.classId),
                h("td", {}, formatDate(item.purgeAfter, language())),
              ),
            ),
          )
        : null,
      ),
    );
  };
  const form = h(
    "form",
    {
      class: "retention-form",
      onsubmit: (event) => {
        event.preventDefault();
        list.replaceChildren();
        loading(list, show);
      },
    },
    h("p", { class: "lead" }, t("retentionIntro")),
    h("label", { for: date.id }, t("retentionAsOf")),
    h("div", { class: "picker" }, date, h("button", { type: "submit", class: "secondary" }, t("retentionRun"))),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "retention-heading" },
    h("h2", { id: "retention-heading" }, t("retentionTitle")),
    form,
    list,
  );
}

export function adminView() {
  return page(
    t("navAdmin"),
    rosterSection(),
    yearCloseSection(),
    exportSection(),
    retentionSection(),
    auditSection(),
  );
}
