// Sign-in with OpenID Connect: authorization code + PKCE (S256), state and nonce, rotating refresh tokens,
// RP-initiated logout. No implicit flow (RFC 9700): tokens only ever come from the token endpoint.
// The provider is named by /static/config.json ({issuer, clientId, scope}); its endpoints come from discovery.

const SESSION_KEY = "cartable.session"; // {accessToken, refreshToken, idToken, expiresAt}
const PENDING_KEY = "cartable.oidc.pending"; // {state, nonce, verifier, returnTo} between redirect and callback
const REFRESH_MARGIN_MS = 60_000; // renew a minute before the access token expires

export class SignInError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeOf(verifier) {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(hash));
}

/** The claims of a JWT, unverified: the token endpoint answered it directly over the provider's connection. */
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

export class Auth {
  constructor({ configUrl = "/static/config.json", storage = sessionStorage } = {}) {
    this.configUrl = configUrl;
    this.storage = storage;
    this.config = null;
    this.metadata = null;
    this.session = null;
    this.timer = null;
    this.renewing = null;
    this.onChange = null; // called with the session after a refresh, null after it failed
  }

  get redirectUri() {
    return `${location.origin}/`;
  }

  /** The page's provider and its discovered endpoints; null when no provider is configured. */
  async provider() {
    if (this.metadata) return this.metadata;
    if (!this.config) {
      const answer = await fetch(this.configUrl, { cache: "no-store" });
      if (!answer.ok) throw new SignInError("config_unavailable");
      this.config = await answer.json();
    }
    if (!this.config.issuer) return null;
    const issuer = this.config.issuer.replace(/\/$/, "");
    let answer;
    try {
      answer = await fetch(`${issuer}/.well-known/openid-configuration`, { cache: "no-store" });
    } catch {
      throw new SignInError("provider_unreachable");
    }
    if (!answer.ok) throw new SignInError("provider_unreachable");
    const metadata = await answer.json();
    if (metadata.issuer.replace(/\/$/, "") !== issuer) throw new SignInError("provider_mismatch");
    if (!(metadata.code_challenge_methods_supported || []).includes("S256")) {
      throw new SignInError("provider_mismatch", "the provider does not support PKCE S256");
    }
    this.metadata = metadata;
    return metadata;
  }

  /** The session kept for this tab, if any (access tokens are short-lived; the refresh token renews them). */
  restore() {
    try {
      this.session = JSON.parse(this.storage.getItem(SESSION_KEY) || "null");
    } catch {
      this.session = null;
    }
    if (this.session) this.schedule();
    return this.session;
  }

  get accessToken() {
    return this.session ? this.session.accessToken : null;
  }

  get claims() {
    return this.session ? claimsOf(this.session.accessToken) : null;
  }

  get name() {
    const identity = this.session && claimsOf(this.session.idToken);
    return identity ? identity.name || null : null;
  }

  /** Off to the provider's login form, with a fresh state, nonce and PKCE verifier. */
  async signIn({ locale, returnTo = "#/me" } = {}) {
    const metadata = await this.provider();
    if (!metadata) throw new SignInError("no_provider");
    const pending = { state: randomString(), nonce: randomString(), verifier: randomString(48), returnTo };
    this.storage.setItem(PENDING_KEY, JSON.stringify(pending));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: this.redirectUri,
      scope: this.config.scope,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await challengeOf(pending.verifier),
      code_challenge_method: "S256",
    });
    if (locale) query.set("ui_locales", locale);
    location.assign(`${metadata.authorization_endpoint}?${query}`);
  }

  /** Back from the provider (`?code=&state=` or `?error=`): exchange the code; null when this is no callback. */
  async completeSignIn() {
    const params = new URLSearchParams(location.search);
    if (!params.has("state") || !(params.has("code") || params.has("error"))) return null;
    let pending = null;
    try {
      pending = JSON.parse(this.storage.getItem(PENDING_KEY) || "null");
    } catch {
      pending = null;
    }
    this.storage.removeItem(PENDING_KEY);
    const returnTo = (pending && pending.returnTo) || "#/me";
    history.replaceState(null, "", `${location.pathname}${returnTo}`); // the code never stays in the address bar
    if (!pending || params.get("state") !== pending.state) throw new SignInError("state_mismatch");
    if (params.has("error")) throw new SignInError(params.get("error"), params.get("error_description") || "");
    const metadata = await this.provider();
    if (params.has("iss") && params.get("iss") !== metadata.issuer) throw new SignInError("provider_mismatch");
    const tokens = await this.tokenRequest({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: this.redirectUri,
      code_verifier: pending.verifier,
    });
    const identity = claimsOf(tokens.id_token || "");
    const audience = identity && [].concat(identity.aud);
    if (!identity || identity.nonce !== pending.nonce || identity.iss !== metadata.issuer) {
      throw new SignInError("id_token_invalid");
    }
    if (!audience.includes(this.config.clientId) || identity.exp * 1000 < Date.now() - 60_000) {
      throw new SignInError("id_token_invalid");
    }
    this.keep(tokens);
    return this.session;
  }

  async tokenRequest(fields) {
    const metadata = await this.provider();
    let answer;
    try {
      answer = await fetch(metadata.token_endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams({ ...fields, client_id: this.config.clientId }),
        cache: "no-store",
      });
    } catch {
      throw new SignInError("provider_unreachable");
    }
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok || !data.access_token) throw new SignInError(data.error || "token_refused", data.error_description);
    return data;
  }

  keep(tokens) {
    const previous = this.session || {};
    this.session = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token || previous.refreshToken || null,
      idToken: tokens.id_token || previous.idToken || null,
      expiresAt: Date.now() + (tokens.expires_in || 300) * 1000,
    };
    this.storage.setItem(SESSION_KEY, JSON.stringify(this.session));
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.session || !this.session.refreshToken) return;
    const wait = Math.max(this.session.expiresAt - Date.now() - REFRESH_MARGIN_MS, 1_000);
    this.timer = setTimeout(() => {
      this.refresh().catch(() => {});
    }, wait);
  }

  /** A new access token from the refresh token (rotated by the provider); false when it cannot be had. */
  refresh() {
    if (!this.renewing) {
      this.renewing = this.renew().finally(() => {
        this.renewing = null;
      });
    }
    return this.renewing;
  }

  async renew() {
    if (!this.session || !this.session.refreshToken) return false;
    try {
      this.keep(await this.tokenRequest({ grant_type: "refresh_token", refresh_token: this.session.refreshToken }));
    } catch (error) {
      if (error.code === "provider_unreachable") return false; // try again on the next 401
      this.forget();
      if (this.onChange) this.onChange(null);
      return false;
    }
    if (this.onChange) this.onChange(this.session);
    return true;
  }

  forget() {
    clearTimeout(this.timer);
    this.session = null;
    this.storage.removeItem(SESSION_KEY);
  }

  /** Forget the tokens here, then end the provider's session too (it sends people back to the page). */
  async signOut({ locale } = {}) {
    const idToken = this.session && this.session.idToken;
    this.forget();
    let metadata = null;
    try {
      metadata = await this.provider();
    } catch {
      metadata = null;
    }
    if (!metadata || !metadata.end_session_endpoint || !idToken) return false;
    const query = new URLSearchParams({
      id_token_hint: idToken,
      post_logout_redirect_uri: this.redirectUri,
      client_id: this.config.clientId,
    });
    if (locale) query.set("ui_locales", locale);
    location.assign(`${metadata.end_session_endpoint}?${query}`);
    return true;
  }
}
