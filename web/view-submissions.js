// An assignment's submissions as its teachers see them: every pupil of the class (missing ones marked), late marks
// from the due date, feedback returned per pupil, and the class's ZIP built as a job.
import { api, displayName, errorText, loading } from "./context.js";
import { downloadButton, statusBadge } from "./files.js";
import { language, plural, reasonText, t } from "./i18n.js";
import { announce, formatDate, h } from "./ui.js";

/** The submissions' card; its `refresh()` reads them again (after the due date moved, say). */
export function submissionsPanel(assignment) {
  const headingId = "submissions-heading";
  const error = h("p", { class: "error", role: "alert" });
  // The ZIP is built off the request (a large class's would outlast the gateway's 29 s): a job, followed
  // until ready, then a download link that lasts until the job expires.
  const zipStatus = h("div", { class: "zip-status", role: "status" });
  const zip = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        zip.disabled = true;
        error.textContent = "";
        const name = `${assignment.title}.zip`;
        zipStatus.replaceChildren(
          h("label", { for: "zip-progress" }, t("preparingZip")),
          h("progress", { id: "zip-progress" }),
        );
        try {
          const job = await api.waitJob(await api.archiveJob(assignment.id));
          if (job.status !== "ready") throw Object.assign(new Error(), { code: job.reason || "generic" });
          const link = h(
            "button",
            {
              type: "button",
              onclick: async () => {
                link.disabled = true;
                try {
                  await api.downloadJob(job.id, name);
                  announce(t("downloaded", { name }));
                } catch (failure) {
                  error.textContent = errorText(failure);
                } finally {
                  link.disabled = false;
                }
              },
            },
            t("downloadReadyZip"),
          );
          zipStatus.replaceChildren(
            link,
            " ",
            h("span", { class: "meta" }, t("zipUntil", { date: formatDate(job.expiresAt, language()) })),
          );
          announce(t("zipReady"));
          link.focus();
        } catch (failure) {
          zipStatus.replaceChildren();
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
        [t("colStudent"), t("colFiles"), t("colSubmitted"), t("colLate"), t("colFeedback")].map((text) =>
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
    zipStatus,
    error,
    h("div", { class: "table-wrap" }, table),
  );
  const fill = async () => {
    const answer = await api.submissions(assignment.id);
    const turnedIn = answer.items.filter((s) => !s.missing);
    const late = turnedIn.filter((item) => item.late).length;
    summary.textContent = t("submissionSummary", {
      turnedIn: plural("turnedInCount", turnedIn.length),
      late: plural("lateCount", late),
      missing: plural("missingCount", answer.items.length - turnedIn.length),
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
          h(
            "td",
            { "data-label": t("colFeedback") },
            feedbackList(item.feedback || []),
            feedbackForm(assignment, item.student, () => fill()),
          ),
        ),
      ),
    );
    table.hidden = !answer.items.length;
    zip.disabled = !turnedIn.length;
  };
  loading(section, fill);
  section.refresh = fill;
  return section;
}

export function feedbackList(files) {
  if (!files.length) return null;
  return h(
    "ul",
    { class: "submitted-files feedback-files" },
    files.map((file) =>
      h("li", { dataset: { fileId: file.id } }, h("span", { class: "name" }, file.name), " ", downloadButton(file)),
    ),
  );
}

/** A teacher returns a file to one pupil (`feedbackFor`): only they and the class's teachers can read it. */
function feedbackForm(assignment, student, onReturned) {
  const name = displayName(student);
  const input = h("input", { type: "file", id: `feedback-${student}`, required: true });
  const button = h("button", { type: "submit", class: "secondary", "aria-label": t("returnFeedbackTo", { name }) }, t("returnFeedback"));
  const status = h("p", { class: "meta", role: "status" });
  const form = h(
    "form",
    {
      class: "feedback-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const file = input.files[0];
        if (!file) {
          input.focus();
          return;
        }
        button.disabled = true;
        status.textContent = t("sending", { name: file.name });
        try {
          const grant = await api.upload(file, assignment.space, "/", () => {}, { feedbackFor: student });
          const done = await api.waitScanned(grant.uploadId, () => {});
          if (done.status === "available") {
            announce(t("feedbackReturned", { file: file.name, name }));
            await onReturned();
          } else {
            status.textContent = t(`announce_${done.status}`, { name: file.name, reason: reasonText(done.status, done.reason) });
          }
        } catch (failure) {
          status.textContent = errorText(failure);
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", { for: input.id, class: "visually-hidden" }, t("feedbackFileFor", { name })),
    input,
    button,
    status,
  );
  return form;
}

function submissionBadge(item) {
  if (item.missing) return h("span", { class: "badge badge-missing" }, t("missing"));
  return h("span", { class: `badge ${item.late ? "badge-late" : "badge-ok"}` }, item.late ? t("late") : t("onTime"));
}
