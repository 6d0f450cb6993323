// Classes, a class's assignments and folder, an assignment: a pupil turns in, a teacher collects.
import { api, displayName, errorText, loading, myClasses, page, state, toUtc } from "./context.js";
import { deleteAssignment, openAssignmentEdit } from "./assignment-dialog.js";
import { FileTable } from "./files.js";
import { language, t, typesText } from "./i18n.js";
import { fileRules, spaceBrowser, usageMeter } from "./space.js";
import { announce, formatDate, formatSize, h } from "./ui.js";
import { uploader } from "./uploader.js";
import { feedbackList, submissionsPanel } from "./view-submissions.js";

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
    const card = h("section", { class: "card" });
    holder.append(card);
    const show = (shown) => {
      view.querySelector("h1").textContent = shown.title;
      document.title = `${shown.title} — Cartable`;
      card.replaceChildren(assignmentFacts(klass, shown), actions);
    };
    // Changing the assignment is the class's teachers' (the API's `assign` rule, as for the new-assignment form):
    // the class's own list of teachers, as the API gave it, decides whether the buttons show.
    const teaches = klass.teachers.includes(state.claims.sub);
    let panel = null;
    const changed = (shown) => {
      show(shown);
      if (panel) panel.refresh().catch(() => {}); // `late` follows the new due date
    };
    const actions = teaches ? assignmentActions(assignment, classId, changed) : null;
    show(assignment);
    // From the space's `can`: who may turn in gets the uploader and their submission; who reads the space's
    // files without turning in (its `can` is then about every submission) gets the class's submissions.
    if (space.can.upload || !space.can.read) holder.append(...studentPanel(assignment, space));
    else {
      panel = submissionsPanel(assignment);
      holder.append(panel);
    }
  });
  return view;
}

function assignmentFacts(klass, assignment) {
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, t("class")),
    h("dd", {}, h("a", { href: `#/class/${encodeURIComponent(klass.id)}` }, klass.name)),
    h("dt", {}, t("dueAt")),
    h("dd", { class: "due-at" }, formatDate(assignment.dueAt, language())),
    assignment.closesAt ? [h("dt", {}, t("closesAt")), h("dd", {}, formatDate(assignment.closesAt, language()))] : null,
    assignment.allowedTypes ? [h("dt", {}, t("allowedTypes")), h("dd", {}, typesText(assignment.allowedTypes))] : null,
    assignment.maxSize ? [h("dt", {}, t("maxSize")), h("dd", {}, formatSize(assignment.maxSize, language()))] : null,
    assignment.instructions ? [h("dt", {}, t("instructions")), h("dd", { class: "instructions" }, assignment.instructions)] : null,
  );
}

/** A teacher's Edit (the dialog; `onChanged(assignment)` after a change) and Delete (to the class, once done). */
function assignmentActions(assignment, classId, onChanged) {
  let current = assignment;
  const edit = h("button", {
    type: "button",
    class: "secondary",
    onclick: () => openAssignmentEdit(current, { opener: edit, onDone: (changed) => onChanged((current = changed)) }),
  }, t("editAssignment"));
  const error = h("p", { class: "error", role: "alert" });
  const remove = h("button", {
    type: "button",
    class: "danger",
    onclick: async () => {
      error.textContent = "";
      try {
        if (await deleteAssignment(current, remove)) location.hash = `#/class/${encodeURIComponent(classId)}`;
      } catch (failure) {
        error.textContent = errorText(failure);
      }
    },
  }, t("deleteAssignment"));
  return h("div", { class: "actions assignment-actions" }, edit, remove, error);
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
