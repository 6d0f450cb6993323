// Classes, a class's assignments and folder, an assignment: a pupil turns in, a teacher collects.
import { api, displayName, errorText, loading, myClasses, page, state, toUtc } from "./context.js";
import { FileTable, downloadButton, statusBadge } from "./files.js";
import { language, plural, reasonText, t, typesText } from "./i18n.js";
import { fileRules, spaceBrowser, usageMeter } from "./space.js";
import { announce, formatDate, formatSize, h } from "./ui.js";
import { uploader } from "./uploader.js";

export function classesView() {
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

export function classView(classId) {
  const holder = h("div");
  const view = page(t("classTitle", { name: classId }), holder);
  loading(holder, async () => {
    const klass = (await myClasses()).find((c) => c.id === classId);
    if (!klass) throw Object.assign(new Error(), { code: "not_found" });
    const title = t("classTitle", { name: klass.name });
    view.querySelector("h1").textContent = title;
    document.title = `${title} — Cartable`;
    // Setting assignments is the class's teachers' (the API's `assign` rule), which the space's `can` does not
    // cover: the class's own list of teachers, as the API gave it, decides whether the form shows.
    const setsAssignments = klass.teachers.includes(state.claims.sub);
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
    if (setsAssignments) assignments.append(assignmentForm(classId, fill));
    const browser = spaceBrowser({
      space: `class:${classId}`,
      title: t("classFolder"),
      showOwner: true,
      uploadHeading: t("uploadToClass"),
    });
    holder.append(assignments, browser.element);
  });
  return view;
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

export function assignmentView(classId, assignmentId) {
  const holder = h("div");
  const view = page(t("assignment"), holder);
  loading(holder, async () => {
    const [klass, answer, space] = await Promise.all([
      myClasses().then((all) => all.find((c) => c.id === classId)),
      api.assignments(classId),
      api.space(`assignment:${assignmentId}`),
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
    // From the space's `can`: who may turn in gets the uploader and their submission; who reads the space's
    // files without turning in (its `can` is then about every submission) gets the class's submissions.
    if (space.can.upload || !space.can.read) holder.append(...studentPanel(assignment, space));
    else holder.append(submissionsPanel(assignment));
  });
  return view;
}

/** One's own submission; the uploader while the space takes uploads (until it closes), with its usage. */
function studentPanel(assignment, space) {
  const mine = h(
    "section",
    { class: "card", "aria-labelledby": "mine-heading" },
    h("h2", { id: "mine-heading", tabindex: -1 }, t("mySubmission")),
  );
  const lateNote = h("p", { class: "late-note" });
  const rules = fileRules(space);
  const table = new FileTable({
    caption: t("mySubmission"),
    canDelete: rules.canDelete,
    canChange: rules.canChange,
    moves: false, // a submission stays at the assignment's root (the API answers 400 to a move)
    onChanged: () => refresh(),
  });
  table.focusAfter = () => mine.querySelector("h2").focus();
  const trash = h("p", { class: "trash-link" }, h("a", { href: `#/trash/${encodeURIComponent(assignment.space)}` }, t("openTrash")));
  const feedback = h("div", { class: "feedback" });
  mine.append(lateNote, table.element, feedback, trash);
  const refresh = async () => {
    const answer = await api.submissions(assignment.id);
    const own = answer.items[0];
    table.setFiles(own ? own.files : []);
    const returned = own && own.feedback ? own.feedback : [];
    feedback.replaceChildren(...(returned.length ? [h("h3", {}, t("feedbackFromTeacher")), feedbackList(returned)] : []));
    lateNote.replaceChildren(
      own
        ? h("span", { class: `badge ${own.late ? "badge-late" : "badge-ok"}` }, own.late ? t("late") : t("onTime"))
        : "",
      own ? ` ${t("submittedAt", { date: formatDate(own.submittedAt, language()) })}` : "",
    );
  };
  loading(mine, refresh);
  if (!space.can.upload) {
    return [h("p", { class: "notice closed-note" }, t("error_assignment_closed")), mine];
  }
  const usage = usageMeter();
  const upload = uploader({
    space: assignment.space,
    heading: t("turnIn"),
    limits: { maxSize: assignment.maxSize, allowedTypes: assignment.allowedTypes },
    onFile: (file) => {
      table.upsert(file);
      if (file.status === "pending") return;
      refresh().catch(() => {});
      api
        .space(assignment.space)
        .then((answer) => usage.show(answer.usage))
        .catch(() => {});
    },
  });
  upload.insertBefore(usage.element, upload.children[1]);
  usage.show(space.usage);
  return [upload, mine];
}

function submissionsPanel(assignment) {
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
  return section;
}

function feedbackList(files) {
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
