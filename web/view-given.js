// The shares I gave (GET /v1/shares/given): each file, with whom, how and until when, and a way to revoke it.
import { api, displayName, errorText, loading, myClasses, page } from "./context.js";
import { confirmDialog } from "./filedialog.js";
import { language, plural, t } from "./i18n.js";
import { announce, formatDate, h } from "./ui.js";

/** Whom a share reaches, in words: a person by name, a class by its name when the page knows it. */
function targetText(target, classes) {
  if (target.type === "class") {
    const klass = classes.find((c) => c.id === target.id);
    return t("withClass", { name: klass ? klass.name : target.id });
  }
  return displayName(target.id);
}

export function givenView() {
  const summary = h("p", { class: "meta" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "given", hidden: true },
    h("caption", { class: "visually-hidden" }, t("navGiven")),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        [t("colFile"), t("colWith"), t("shareRole"), t("colUntil"), t("colActions")].map((text) =>
          h("th", { scope: "col" }, text),
        ),
      ),
    ),
    body,
  );
  const empty = h("p", { class: "empty", hidden: true }, t("givenEmpty"));
  const heading = h("h2", { id: "given-heading", class: "visually-hidden", tabindex: -1 }, t("navGiven"));
  const section = h(
    "section",
    { class: "card", "aria-labelledby": heading.id },
    heading,
    h("p", { class: "lead" }, t("givenIntro")),
    summary,
    h("div", { class: "table-wrap" }, table),
    empty,
  );
  const counted = () => {
    const count = body.children.length;
    summary.textContent = count ? plural("givenCount", count) : "";
    table.hidden = !count;
    empty.hidden = Boolean(count);
  };
  loading(section, async () => {
    const [answer, classes] = await Promise.all([api.sharesGiven(), myClasses().catch(() => [])]);
    body.replaceChildren(...answer.items.map((share) => shareRow(share, classes, counted, heading)));
    counted();
  });
  return page(t("navGiven"), section);
}

function shareRow(share, classes, counted, heading) {
  const name = share.file ? share.file.name : t("fileGone");
  const target = targetText(share.with, classes);
  const row = h(
    "tr",
    { dataset: { shareId: share.id } },
    h("th", { scope: "row", class: "name", "data-label": t("colFile") }, name),
    h("td", { "data-label": t("colWith") }, target),
    h("td", { "data-label": t("shareRole") }, t(`share_${share.role}`)),
    h("td", { "data-label": t("colUntil") }, share.expiresAt ? formatDate(share.expiresAt, language()) : t("noEnd")),
    h(
      "td",
      { "data-label": t("colActions") },
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          "aria-label": t("revokeNamed", { name, target }),
          onclick: async (event) => {
            const button = event.currentTarget;
            const sure = await confirmDialog({
              title: t("revokeTitle"),
              text: t("revokeText", { name, target }),
              confirm: t("revoke"),
              opener: button,
            });
            if (!sure) return;
            button.disabled = true;
            try {
              await api.revokeShare(share.id);
            } catch (error) {
              button.disabled = false;
              button.focus();
              announce(errorText(error));
              return;
            }
            // The focus goes on to the next share's button (or the previous one, or the list's heading).
            const next = row.nextElementSibling || row.previousElementSibling;
            row.remove();
            counted();
            (next ? next.querySelector("button") : heading).focus();
            announce(t("revoked", { name, target }));
          },
        },
        t("revoke"),
      ),
    ),
  );
  return row;
}
