// Files others shared with me.
import { api, displayName, loading, page } from "./context.js";
import { downloadButton } from "./files.js";
import { language, t } from "./i18n.js";
import { formatDate, h } from "./ui.js";

export function sharedView() {
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
