// My files and the trash of a space.
import { api, errorText, loading, page } from "./context.js";
import { language, t } from "./i18n.js";
import { spaceBrowser } from "./space.js";
import { announce, formatDate, h } from "./ui.js";

/** My drive: what I may do there, and the room left, as the API says (GET /v1/spaces/me). */
export function myFilesView() {
  const browser = spaceBrowser({ space: "me", title: t("myFilesList") });
  const trash = h("p", { class: "trash-link" }, h("a", { href: "#/trash/me" }, t("openTrash")));
  return page(t("myFiles"), browser.element, trash);
}

/** What was deleted from a space, restorable until it is purged. */
export function trashView(space) {
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
