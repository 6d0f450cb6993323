// The sign-in view: off to the school's identity provider (auth.js does the OpenID Connect part).
import { auth, loading, page } from "./context.js";
import { language, t } from "./i18n.js";
import { h } from "./ui.js";

export function signInErrorText(error) {
  return t(`signIn_${error.code}`, {}, null) || t("signInFailed");
}

export function signInView(notice) {
  const body = h("div", { class: "sign-in" });
  const view = page(t("signInTitle"), notice ? h("p", { class: "notice", role: "alert" }, notice) : null, body);
  loading(body, async () => {
    const provider = await auth.provider();
    if (!provider) {
      body.append(h("p", { class: "error", role: "alert" }, t("noProvider")));
      return;
    }
    const error = h("p", { class: "error", role: "alert" });
    const button = h(
      "button",
      {
        type: "button",
        class: "sign-in-button",
        onclick: async () => {
          button.disabled = true;
          error.textContent = "";
          try {
            await auth.signIn({ locale: language(), returnTo: "#/me" });
          } catch (failure) {
            error.textContent = signInErrorText(failure);
            button.disabled = false;
          }
        },
      },
      t("signInWithSchool"),
    );
    body.append(h("p", { class: "lead" }, t("providerIntro")), error, button);
  });
  return view;
}
