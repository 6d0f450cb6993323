// The Cartable HTTP API as the web client uses it (see CONTRACT.md). Same origin: the page is served by the API.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

/** A request body sent as it is, with its type. */
class RawBody {
  constructor(text, type) {
    this.text = text;
    this.type = type;
  }
}

const POLL_INTERVAL_MS = 500;
const POLL_TIMEOUT_MS = 60_000;
const MAX_PAGES = 20;
const DIGEST_LIMIT = 64 * 1024 * 1024; // above it WebCrypto would need the whole file in memory

export class Api {
  /** `auth` (auth.js) holds the access token and renews it once when the API answers 401. */
  constructor(base = "", auth = null) {
    this.base = base;
    this.auth = auth;
    this.onUnauthorized = null;
  }

  get token() {
    return this.auth ? this.auth.accessToken : null;
  }

  headers(extra = {}) {
    return this.token ? { ...extra, Authorization: `Bearer ${this.token}` } : extra;
  }

  /** After a 401, one more try with a renewed access token (the refresh token's), if one can be had. */
  async renewed(status, retried) {
    return status === 401 && !retried && this.auth !== null && (await this.auth.refresh());
  }

  /** `body`: JSON, or `{text, type}` sent as is (a roster's CSV). */
  async request(method, path, body, retried = false) {
    const init = { method, headers: this.headers(), cache: "no-store" };
    if (body instanceof RawBody) {
      init.headers["Content-Type"] = body.type;
      init.body = body.text;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch (error) {
      throw new ApiError(0, "network", error.message);
    }
    if (await this.renewed(response.status, retried)) return this.request(method, path, body, true);
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw this.failure(response.status, data);
    return data;
  }

  failure(status, data) {
    const error = (data && data.error) || {};
    const failure = new ApiError(status, error.code || `http_${status}`, error.message || "");
    if (status === 401 && this.onUnauthorized) this.onUnauthorized(failure);
    return failure;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  /** Every page of a list (`items`, `nextCursor`), up to MAX_PAGES of 1000. */
  async all(path) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ limit: "1000" });
      if (cursor) query.set("cursor", cursor);
      const answer = await this.get(`${path}?${query}`);
      items.push(...answer.items);
      cursor = answer.nextCursor;
      if (!cursor) break;
    }
    return { items };
  }

  // -- local stack only: the demo school's people, for their names (404 in other stages) --
  async demoUsers() {
    try {
      return await this.get("/v1/local/users");
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  }

  // -- reading --
  classes() {
    return this.get("/v1/classes?limit=1000");
  }

  assignments(classId) {
    return this.get(`/v1/classes/${encodeURIComponent(classId)}/assignments`);
  }

  /** Every page of an assignment's submissions (a teacher's lists every student, `missing` included). */
  submissions(assignmentId) {
    return this.all(`/v1/assignments/${encodeURIComponent(assignmentId)}/submissions`);
  }

  /** A space as the caller sees it: `title`, `can` (what the page may offer), `usage` ({bytes, quota}). */
  space(space) {
    return this.get(`/v1/spaces/${encodeURIComponent(space)}`);
  }

  /** The caller's live shares, newest first, each with its id (to revoke it) and its file (null once unreadable). */
  sharesGiven() {
    return this.all("/v1/shares/given");
  }

  received() {
    return this.get("/v1/shares/received");
  }

  notifications() {
    return this.get("/v1/notifications?limit=50");
  }

  file(fileId) {
    return this.get(`/v1/files/${encodeURIComponent(fileId)}`);
  }

  async folder(space, path = "/") {
    const items = [];
    let folders = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ path, limit: "1000" });
      if (cursor) query.set("cursor", cursor);
      const answer = await this.get(`/v1/spaces/${encodeURIComponent(space)}/files?${query}`);
      items.push(...answer.items);
      if (page === 0) folders = answer.folders || [];
      cursor = answer.nextCursor;
      if (!cursor) break;
    }
    return { items, folders };
  }

  // -- the school office (role admin) --
  /** A roster CSV (`class_id,class_name,user_id,role`): what was applied and each refused line. */
  importRoster(csv) {
    return this.request("POST", "/v1/roster/import", new RawBody(csv, "text/csv; charset=utf-8"));
  }

  /** The year close, a job: its `result` has the counts once `ready`. */
  closeYear(year) {
    return this.post("/v1/years/close", { year });
  }

  /** One person's files as a ZIP, a job (the right of access, asked by the school office). */
  exportUser(userId) {
    return this.post(`/v1/users/${encodeURIComponent(userId)}/export`);
  }

  /** What the retention would remove on `asOf` (a date; today when null): nothing changes. */
  retention(asOf = null) {
    const query = new URLSearchParams({ limit: "1000" });
    if (asOf) query.set("asOf", asOf);
    return this.get(`/v1/retention?${query}`);
  }

  audit(user = null) {
    const query = new URLSearchParams({ limit: "100" });
    if (user) query.set("user", user);
    return this.get(`/v1/audit?${query}`);
  }

  /** A file's available versions, newest first. */
  versions(fileId) {
    return this.get(`/v1/files/${encodeURIComponent(fileId)}/versions?limit=100`);
  }

  /** A space's trash (what the caller may restore), newest first, each with `trashedAt` and `purgeAt`. */
  trash(space) {
    return this.get(`/v1/spaces/${encodeURIComponent(space)}/trash?limit=1000`);
  }

  // -- writing --
  /** To the trash: restorable for 30 days. */
  deleteFile(fileId) {
    return this.request("DELETE", `/v1/files/${encodeURIComponent(fileId)}`);
  }

  restore(fileId) {
    return this.post(`/v1/files/${encodeURIComponent(fileId)}/restore`);
  }

  revokeShare(shareId) {
    return this.request("DELETE", `/v1/shares/${encodeURIComponent(shareId)}`);
  }

  /** Rename and/or move a file in its space (`{name, path}`, either); answers the file. */
  updateFile(fileId, changes) {
    return this.request("PATCH", `/v1/files/${encodeURIComponent(fileId)}`, changes);
  }

  share(fileId, target, role, expiresAt) {
    const body = { fileId, with: target, role };
    if (expiresAt) body.expiresAt = expiresAt;
    return this.post("/v1/shares", body);
  }

  createAssignment(classId, body) {
    return this.post(`/v1/classes/${encodeURIComponent(classId)}/assignments`, body);
  }

  /** Grant, then send the bytes to the presigned POST; `onProgress(fraction)` follows the upload. */
  async upload(file, space, path, onProgress, extra = {}) {
    const body = {
      space,
      path,
      name: file.name,
      size: file.size,
      contentType: file.type || "application/octet-stream",
      ...extra, // e.g. `feedbackFor`: a teacher's file returned to one pupil
    };
    // WebCrypto cannot hash a stream: a large file is not read whole into memory for its digest.
    const sha256 = file.size <= DIGEST_LIMIT ? await digest(file) : null;
    if (sha256) body.sha256 = sha256;
    const grant = await this.post("/v1/uploads", body);
    if (grant.upload.method === "NONE") {
      onProgress(1); // the same clean bytes were already there: nothing to send
    } else if (grant.upload.method === "MULTIPART") {
      await this.sendParts(grant, file, onProgress);
    } else {
      await postForm(grant.upload, file, onProgress);
    }
    return grant;
  }

  /** PUT each part to its signed URL (three at a time), then complete with every part's ETag. */
  async sendParts(grant, file, onProgress) {
    const { partSize, parts } = grant.upload;
    const sent = new Map();
    const etags = [];
    const report = () => onProgress([...sent.values()].reduce((a, b) => a + b, 0) / file.size);
    const queue = [...parts];
    const worker = async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        const start = (part.partNumber - 1) * partSize;
        const blob = file.slice(start, Math.min(start + partSize, file.size));
        const etag = await putPart(part.url, blob, (loaded) => {
          sent.set(part.partNumber, loaded);
          report();
        });
        etags.push({ partNumber: part.partNumber, etag });
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    etags.sort((a, b) => a.partNumber - b.partNumber);
    await this.post(`/v1/uploads/${encodeURIComponent(grant.uploadId)}/complete`, { parts: etags });
    onProgress(1);
  }

  /** Poll the upload until its scan ends (or a minute passes); `onChange(upload)` sees each new status. */
  async waitScanned(uploadId, onChange) {
    const deadline = Date.now() + POLL_TIMEOUT_MS;
    let last = null;
    for (;;) {
      const upload = await this.get(`/v1/uploads/${encodeURIComponent(uploadId)}`);
      if (upload.status !== last) {
        last = upload.status;
        onChange(upload);
      }
      if (upload.status !== "pending" || Date.now() > deadline) return upload;
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }

  downloadFile(fileId, name) {
    return this.download(`/v1/files/${encodeURIComponent(fileId)}/content`, name);
  }

  /** An earlier version's bytes (`version` null: the current one). */
  downloadVersion(fileId, version, name) {
    const query = version ? `?version=${encodeURIComponent(version)}` : "";
    return this.download(`/v1/files/${encodeURIComponent(fileId)}/content${query}`, name);
  }

  /** The class's ZIP, built off the request: a job to follow with `waitJob`. */
  archiveJob(assignmentId) {
    return this.post(`/v1/assignments/${encodeURIComponent(assignmentId)}/archive`);
  }

  /** Poll a job until it is `ready` or `failed` (or ten minutes pass). */
  async waitJob(job, { interval = 1000, timeout = 600_000 } = {}) {
    const deadline = Date.now() + timeout;
    let current = job;
    while (current.status === "pending" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, interval));
      current = await this.get(`/v1/jobs/${encodeURIComponent(job.id)}`);
    }
    return current;
  }

  downloadJob(jobId, name) {
    return this.download(`/v1/jobs/${encodeURIComponent(jobId)}/content`, name);
  }

  /** The API answers 302 to a short-lived signed URL; fetch follows it and the bytes are saved under `name`. */
  async download(path, name, retried = false) {
    let response;
    try {
      response = await fetch(this.base + path, { headers: this.headers(), cache: "no-store" });
    } catch (error) {
      throw new ApiError(0, "network", error.message);
    }
    if (await this.renewed(response.status, retried)) return this.download(path, name, true);
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw this.failure(response.status, data);
    }
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    return blob.size;
  }
}

/** The file's SHA-256 in hex, so content that changed on the way never becomes available. */
async function digest(file) {
  if (!globalThis.crypto || !crypto.subtle) return null;
  const hash = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(hash), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** One part PUT to its signed URL; resolves with the ETag the store answered. */
function putPart(url, blob, onLoaded) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    request.upload.addEventListener("progress", (event) => onLoaded(event.loaded));
    request.addEventListener("load", () => {
      const etag = request.getResponseHeader("ETag");
      if (request.status >= 200 && request.status < 300 && etag) {
        onLoaded(blob.size);
        resolve(etag);
      } else {
        reject(new ApiError(request.status, "storage_refused", ""));
      }
    });
    request.addEventListener("error", () => reject(new ApiError(0, "network", "")));
    request.addEventListener("abort", () => reject(new ApiError(0, "aborted", "")));
    request.send(blob);
  });
}

/** multipart/form-data to the object store: every signed field, then the bytes as `file`. */
function postForm(form, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", form.url);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(new ApiError(request.status, "storage_refused", ""));
      }
    });
    request.addEventListener("error", () => reject(new ApiError(0, "network", "")));
    request.addEventListener("abort", () => reject(new ApiError(0, "aborted", "")));
    const data = new FormData();
    for (const [key, value] of Object.entries(form.fields)) data.append(key, value);
    data.append("file", file);
    request.send(data);
  });
}
