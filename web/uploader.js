// The uploader: a picker, the tablet's camera and a drop on the card, a progress bar, the scan's verdict live,
// and refusals said as sentences with a way to try again.
import { api, errorText, state } from "./context.js";
import { statusBadge } from "./files.js";
import { language, reasonText, t, typesText } from "./i18n.js";
import { announce, formatSize, h } from "./ui.js";

let uploaderCount = 0;

/** Why an upload was refused before any byte left, as a sentence; `again`: the same file may simply be sent again. */
function refusal(error, file, limits) {
  const name = file.name;
  switch (error.code) {
    case "payload_too_large":
      return {
        text: limits && limits.maxSize
          ? t("refuse_too_large_max", { name, size: formatSize(file.size, language()), max: formatSize(limits.maxSize, language()) })
          : t("refuse_too_large", { name, size: formatSize(file.size, language()) }),
      };
    case "unsupported_media_type":
      return {
        text: limits && limits.allowedTypes
          ? t("refuse_type_allowed", { name, types: typesText(limits.allowedTypes) })
          : t("refuse_type", { name }),
      };
    case "quota_exceeded":
      return { text: t("refuse_quota", { name }) };
    case "network":
    case "aborted":
    case "storage_refused":
    case "too_many_requests":
    case "service_unavailable":
      return { text: errorText(error), again: true };
    default:
      return { text: errorText(error) };
  }
}

/** A file picker, a progress bar fed by XMLHttpRequest's upload events, and the scan's verdict, live. */
export function uploader({ space, path = () => "/", heading, onFile, limits = null }) {
  uploaderCount += 1;
  const id = `upload-${uploaderCount}`;
  const input = h("input", { type: "file", id: `${id}-input`, name: "file", required: true });
  // A tablet opens its camera for this one: a photo of paper homework goes straight up.
  const camera = h("input", { type: "file", id: `${id}-camera`, accept: "image/*", capture: "environment" });
  const button = h("button", { type: "submit" }, t("upload"));
  const progress = h("progress", { id: `${id}-progress`, max: 100, value: 0 });
  const percent = h("span", { class: "percent", "aria-hidden": "true" }, percentText(0));
  const progressLabel = h("label", { for: progress.id }, "");
  const progressBox = h(
    "div",
    { class: "progress", hidden: true },
    progressLabel,
    h("div", { class: "bar" }, progress, percent),
  );
  const verdict = h("p", { class: "verdict" });
  const error = h("p", { class: "error", role: "alert" });
  const again = h("div", { class: "row-actions retry", hidden: true });
  const headingId = `${id}-heading`;

  const clear = () => {
    error.textContent = "";
    again.hidden = true;
    again.replaceChildren();
  };
  /** The refusal in words, no progress bar left behind, and a way to try again. */
  const refused = (text, file, { resend = false } = {}) => {
    progressBox.hidden = true;
    error.textContent = text;
    const retry = resend ? [h("button", { type: "button", onclick: () => send(file) }, t("tryAgain"))] : [];
    again.replaceChildren(
      ...retry,
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => {
            form.reset();
            clear();
            verdict.replaceChildren();
            input.focus();
          },
        },
        t("chooseAnother"),
      ),
    );
    again.hidden = false;
  };

  async function send(file) {
    clear();
    verdict.replaceChildren();
    if (file.size === 0) {
      refused(t("refuse_empty", { name: file.name }), file);
      return;
    }
    button.disabled = true;
    input.disabled = true;
    camera.disabled = true;
    progress.value = 0;
    percent.textContent = percentText(0);
    progressLabel.textContent = t("sending", { name: file.name });
    try {
      let grant;
      try {
        grant = await api.upload(file, space, path(), (fraction) => {
          const value = Math.round(fraction * 100);
          progressBox.hidden = false; // shown once bytes move, never before the grant
          progress.value = value;
          percent.textContent = percentText(value);
        });
      } catch (failure) {
        const why = refusal(failure, file, limits);
        refused(why.text, file, { resend: why.again });
        return;
      }
      announce(t("sent", { name: file.name }));
      onFile({
        id: grant.fileId,
        name: file.name,
        size: file.size,
        status: "pending",
        reason: null,
        owner: state.claims.sub,
        updatedAt: new Date().toISOString(),
      });
      const showVerdict = (upload) => {
        verdict.replaceChildren(
          h("span", {}, t("verdictOf", { name: file.name })),
          " ",
          ...statusBadge(upload.status, upload.reason),
        );
      };
      const done = await api.waitScanned(grant.uploadId, showVerdict);
      announce(t(`announce_${done.status}`, { name: file.name, reason: reasonText(done.status, done.reason) }));
      onFile(await api.file(grant.fileId));
      if (done.status === "rejected" || done.status === "infected") refused("", file);
      else form.reset();
    } catch (failure) {
      refused(errorText(failure), file);
    } finally {
      button.disabled = false;
      input.disabled = false;
      camera.disabled = false;
    }
  }

  const form = h(
    "form",
    {
      class: "upload-form",
      onsubmit: (event) => {
        event.preventDefault();
        const file = input.files[0];
        clear();
        if (!file) {
          error.textContent = t("chooseFileFirst");
          input.focus();
          return;
        }
        send(file);
      },
    },
    h("label", { for: input.id }, t("chooseFile")),
    h("div", { class: "picker" }, input, button),
    h("p", { class: "meta drop-hint" }, t("dropHint")),
    h("label", { for: camera.id, class: "camera-label" }, t("takePhoto")),
    h("div", { class: "picker" }, camera),
  );
  camera.addEventListener("change", () => {
    if (camera.files[0]) send(camera.files[0]);
  });
  const section = h(
    "section",
    { class: "card uploader", "aria-labelledby": headingId },
    h("h2", { id: headingId }, heading),
    form,
    progressBox,
    verdict,
    error,
    again,
  );
  // Drag and drop: a file dropped anywhere on the card is sent as if chosen (the picker stays the keyboard's way).
  section.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    section.classList.add("dragging");
  });
  section.addEventListener("dragleave", (event) => {
    if (!section.contains(event.relatedTarget)) section.classList.remove("dragging");
  });
  section.addEventListener("drop", (event) => {
    event.preventDefault();
    section.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file && !button.disabled) send(file);
  });
  return section;
}

export function percentText(value) {
  return new Intl.NumberFormat(language(), { style: "percent" }).format(value / 100);
}

