// Stage local only: the demo school's identity provider, a real OpenID provider (the OpenID-certified
// `oidc-provider`), so the web client signs in exactly as it does against a school's own: discovery,
// authorization code + PKCE (S256), rotating refresh tokens, RP-initiated logout, RS256 JWT access
// tokens the API verifies through /jwks.
//
// Started by local/stack.py with CARTABLE_OIDC_CONFIG naming a JSON file (issuer, port, the client,
// the demo school's accounts). The RS256 key is generated at each start and lives in memory only:
// nothing here is a secret worth keeping, and no key is committed. NOT FOR PRODUCTION: passwords are
// the demo's, storage is in memory, cookies are signed with a key made at start.
import { generateKeyPairSync, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";

import Provider, { errors } from "oidc-provider";

const config = JSON.parse(readFileSync(process.env.CARTABLE_OIDC_CONFIG, "utf8"));
const accounts = new Map(config.accounts.map((account) => [account.id, account]));
const RESOURCE = config.resource; // the API, as a resource indicator (RFC 8707)
const API_SCOPE = "files";

function signingKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  return { ...jwk, kid: `local-${randomBytes(6).toString("hex")}`, alg: "RS256", use: "sig" };
}

const TEXT = {
  en: {
    title: "Sign in to the demo school",
    intro: "Cartable’s local identity provider. Sign in with your school account.",
    username: "User name",
    password: "Password",
    submit: "Sign in",
    wrong: "Wrong user name or password.",
    accounts: "Demo school accounts (password: %s)",
    name: "Name",
    roleHeader: "Role",
    role: { student: "student", teacher: "teacher", admin: "administrator" },
    logoutTitle: "Sign out of the demo school?",
    logoutYes: "Yes, sign me out",
    logoutNo: "No, stay signed in",
    loggedOut: "You are signed out of the demo school.",
  },
  fr: {
    title: "Connexion à l’établissement de démonstration",
    intro: "Le fournisseur d’identité local de Cartable. Connectez-vous avec votre compte de l’établissement.",
    username: "Identifiant",
    password: "Mot de passe",
    submit: "Se connecter",
    wrong: "Identifiant ou mot de passe incorrect.",
    accounts: "Comptes de l’établissement de démonstration (mot de passe : %s)",
    name: "Nom",
    roleHeader: "Rôle",
    role: { student: "élève", teacher: "enseignant·e", admin: "direction" },
    logoutTitle: "Se déconnecter de l’établissement de démonstration ?",
    logoutYes: "Oui, me déconnecter",
    logoutNo: "Non, rester connecté·e",
    loggedOut: "Vous êtes déconnecté·e de l’établissement de démonstration.",
  },
};

function escape(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function localeOf(uiLocales) {
  const first = String(uiLocales || "").split(/\s+/)[0].toLowerCase();
  return first.startsWith("fr") ? "fr" : "en";
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2430}
main{max-width:28rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0003}
h1{font-size:1.4rem}label{display:block;font-weight:600;margin-top:1rem}
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #6b7280;border-radius:4px}
button{font:inherit;margin-top:1.25rem;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#1d4ed8;color:#fff;cursor:pointer}
button.secondary{background:#e5e7eb;color:#1d2430}:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.error{color:#b91c1c;font-weight:600}table{border-collapse:collapse;margin-top:.5rem;font-size:.9rem}
td,th{padding:.2rem .6rem .2rem 0;text-align:left}code{font-size:.95em}`;

function page(locale, title, body) {
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title>
<style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

function loginPage(uid, locale, { username = "", error = "" } = {}) {
  const text = TEXT[locale];
  const rows = [...accounts.values()]
    .map((a) => `<tr><td><code>${escape(a.id)}</code></td><td>${escape(a.name)}</td><td>${text.role[a.role]}</td></tr>`)
    .join("");
  return page(
    locale,
    text.title,
    `<h1>${escape(text.title)}</h1><p>${escape(text.intro)}</p>
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ""}
<label for="username">${escape(text.username)}</label>
<input id="username" name="username" required autofocus autocapitalize="none" spellcheck="false" value="${escape(username)}">
<label for="password">${escape(text.password)}</label>
<input id="password" name="password" type="password" required>
<button type="submit">${escape(text.submit)}</button>
</form>
<section aria-labelledby="demo-accounts"><h2 id="demo-accounts" style="font-size:1rem;margin-top:2rem">
${escape(text.accounts.replace("%s", config.password_hint))}</h2>
<table><thead><tr><th scope="col">${escape(text.username)}</th><th scope="col">${escape(text.name)}</th>
<th scope="col">${escape(text.roleHeader)}</th></tr></thead><tbody>${rows}</tbody></table></section>`,
  );
}

function passwordMatches(account, given) {
  const expected = Buffer.from(account ? account.password : "x".repeat(given.length || 1));
  const actual = Buffer.from(given);
  return Boolean(account) && expected.length === actual.length && timingSafeEqual(expected, actual);
}

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    token_endpoint_auth_method: "none",
    application_type: "web",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    ...client,
  })),
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString("base64url")] },
  claims: { openid: ["sub"], profile: ["name"], school: ["school", "role", "classes"] },
  scopes: ["openid", "profile", "school", "offline_access", API_SCOPE],
  async findAccount(_ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: account.name, school: account.school, role: account.role, classes: account.classes };
      },
    };
  },
  // The API reads who is calling from its access token: the school, the role and the classes besides `sub`.
  async extraTokenClaims(_ctx, token) {
    if (token.kind !== "AccessToken") return undefined;
    const account = accounts.get(token.accountId);
    return account ? { school: account.school, role: account.role, classes: account.classes } : undefined;
  },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      async getResourceServerInfo(_ctx, resourceIndicator) {
        if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: API_SCOPE,
          audience: config.audience,
          accessTokenTTL: config.access_token_ttl,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        };
      },
    },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        const locale = localeOf(ctx.oidc.params?.ui_locales);
        const text = TEXT[locale];
        ctx.body = page(
          locale,
          text.logoutTitle,
          `<h1>${escape(text.logoutTitle)}</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">${escape(text.logoutYes)}</button>
<button class="secondary" type="submit" form="op.logoutForm">${escape(text.logoutNo)}</button>`,
        );
      },
      async postLogoutSuccessSource(ctx) {
        const locale = localeOf(ctx.oidc.params?.ui_locales);
        const text = TEXT[locale];
        ctx.body = page(locale, text.loggedOut, `<p>${escape(text.loggedOut)}</p>`);
      },
    },
  },
  // A public client in a browser: PKCE always (S256 only), refresh tokens rotated on every use.
  responseTypes: ["code"], // no implicit flow (RFC 9700)
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  clientBasedCORS: (_ctx, origin, client) => client.redirectUris.some((uri) => new URL(uri).origin === origin),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: config.access_token_ttl,
    AuthorizationCode: 60,
    IdToken: config.access_token_ttl,
    RefreshToken: 8 * 3600,
    Interaction: 3600,
    Session: 8 * 3600,
    Grant: 8 * 3600,
  },
  renderError(ctx, out) {
    ctx.type = "html";
    ctx.body = page("en", "Error", `<h1>${escape(out.error)}</h1><p>${escape(out.error_description || "")}</p>`);
  },
});

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

// A form sent here ends with a redirect to the client: form-action covers the redirects too.
const CLIENT_ORIGINS = [...new Set(config.clients.flatMap((c) => c.redirect_uris.map((uri) => new URL(uri).origin)))];
const POLICY = `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${CLIENT_ORIGINS.join(" ")}; frame-ancestors 'none'`;

function send(res, status, html) {
  res.writeHead(status, {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": POLICY,
  });
  res.end(html);
}

/** The login form, then an automatic consent: the web client is the school's own (first-party) client. */
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound("interaction mismatch");
  const locale = localeOf(details.params.ui_locales);
  const { prompt, params } = details;
  if (prompt.name === "login" && req.method === "GET" && !action) {
    send(res, 200, loginPage(uid, locale));
    return;
  }
  if (prompt.name === "login" && req.method === "POST" && action === "login") {
    const form = await readForm(req);
    const username = (form.get("username") || "").trim();
    const account = accounts.get(username);
    if (!passwordMatches(account, form.get("password") || "")) {
      send(res, 200, loginPage(uid, locale, { username, error: TEXT[locale].wrong })); // the form again, said why
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === "consent") {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  send(res, 400, page(locale, "Error", "<p>Unexpected step.</p>"));
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  if (req.url === "/favicon.ico") {
    res.writeHead(204).end(); // browsers ask; an error in their console would be noise
    return;
  }
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?\/?(?:\?.*)?$/.exec(req.url);
  if (!match) {
    callback(req, res);
    return;
  }
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    console.error("interaction failed:", error.message);
    if (!res.headersSent) send(res, 400, page("en", "Error", `<p>${escape(error.message)}</p>`));
  }
});
server.listen(config.port, "127.0.0.1", () => {
  console.log(`oidc: the demo school's identity provider is ready at ${config.issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
