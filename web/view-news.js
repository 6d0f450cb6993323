// What's new: the notifications feed in words.
import { api, displayName, loading, page, state } from "./context.js";
import { language, reasonText, t } from "./i18n.js";
import { formatDate, h } from "./ui.js";

function newsText(item) {
  const kind = item.type === "submission.received" && item.late ? "submission.late" : item.type;
  const status = kind === "upload.rejected" ? "rejected" : "infected"; // a quarantined file's reason is a signature
  const values = { name: item.name, by: displayName(item.by || ""), reason: reasonText(status, item.reason) };
  return t(`news_${kind.replace(".", "_")}`, values);
}

export function newsView() {
  const list = h("div");
  const section = h("section", { class: "card" }, list);
  loading(section, async () => {
    const answer = await api.notifications();
    // One's own material shows once: "is available" already says it.
    const mine = (item) => item.type === "material.added" && item.by === state.claims.sub;
    answer.items = answer.items.filter((item) => !mine(item));
    if (!answer.items.length) {
      list.append(h("p", { class: "empty" }, t("newsEmpty")));
      return;
    }
    list.append(
      h(
        "ul",
        { class: "news-list" },
        answer.items.map((item) =>
          h(
            "li",
            { class: "news-item", "data-type": item.type },
            h("span", { class: "name" }, newsText(item)),
            h("span", { class: "meta" }, formatDate(item.at, language())),
          ),
        ),
      ),
    );
  });
  return page(t("navNews"), section);
}
