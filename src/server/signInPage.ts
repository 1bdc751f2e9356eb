/**
 * The demo authorization server's browser answers (smartAuthorize.ts): the sign-in page, error pages, redirects. Server-rendered,
 * no script; everything printed is escaped; a strict Content-Security-Policy (the one inline style is allowed by
 * its hash), no framing, no referrer, never cached. It shows names and ids of the synthetic demo patients and
 * practitioners only.
 */
import { createHash } from 'node:crypto';
import type { Response } from 'express';

export interface Named {
  id: string;
  name: string;
}

export const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A Patient's or Practitioner's display name: its first name's text, else given and family names, else its id. */
export function nameOf(r: { id?: string; name?: unknown }): Named {
  const n = (Array.isArray(r.name) ? r.name[0] : undefined) as
    | { text?: string; given?: string[]; family?: string }
    | undefined;
  const parts = [...(n?.given ?? []), n?.family].filter((x) => typeof x === 'string' && x);
  return { id: r.id ?? '', name: n?.text ?? (parts.join(' ') || `(${r.id})`) };
}

const CSS =
  'body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b1f24}' +
  'main{max-width:40rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px}' +
  'fieldset{border:1px solid #ccd;margin:1rem 0;padding:.5rem 1rem}label{display:block;padding:.2rem 0}' +
  'button{font:inherit;padding:.4rem 1rem;margin-right:.5rem}.note{color:#555}.error{color:#a00;font-weight:bold}' +
  'code{word-break:break-all}';
const STYLE_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

/**
 * An HTML page. `formTargets`: origins a form on it may lead to besides this one (browsers apply form-action to
 * the redirect that answers the form, here to the app's redirect_uri).
 */
export function sendPage(res: Response, status: number, title: string, body: string, formTargets: string[] = []): void {
  const csp = [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    `form-action ${["'self'", ...formTargets].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': csp,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
    })
    .send(
      '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
        '<meta name="viewport" content="width=device-width, initial-scale=1">' +
        `<title>${esc(title)}</title><style>${CSS}</style></head><body><main>${body}</main></body></html>`,
    );
}

/** A redirect that carries `params` (absent ones left out) in the query of `uri`. */
export function redirectTo(
  res: Response,
  status: number,
  uri: string,
  params: Record<string, string | undefined>,
): void {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  res.set('Cache-Control', 'no-store').redirect(status, url.href);
}

export const errorPage = (res: Response, status: number, heading: string, text: string): void =>
  sendPage(res, status, heading, `<h1>${esc(heading)}</h1><p>${esc(text)}</p>`);

export interface SignInView {
  /** Where both forms go (GET: patient search; POST: sign-in). */
  action: string;
  appName: string;
  scopes: readonly string[];
  requestId: string;
  csrf: string;
  practitioners: readonly Named[];
  message?: string;
  /** EHR launch: the patient in context. */
  contextPatient?: Named;
  /** Standalone launch: the patient picker. */
  picker?: {
    patients: readonly Named[];
    q: string;
    /** The authorization request's own parameters, kept by the search form and the page links. */
    params: Record<string, string>;
    previous?: number;
    next?: number;
  };
}

const radios = (name: string, list: readonly Named[], checkFirst: boolean): string =>
  list
    .map(
      (x, i) =>
        `<label><input type="radio" name="${name}" value="${esc(x.id)}"${checkFirst && i === 0 ? ' checked' : ''} required> ` +
        `${esc(x.name)} <span class="note">(${esc(x.id)})</span></label>`,
    )
    .join('');

export function signInHtml(v: SignInView): string {
  const out = [
    '<h1>Sign in to the OsteoWatch demo</h1>',
    `<p><strong>${esc(v.appName)}</strong> asks to use the demo FHIR server with <code>${esc(v.scopes.join(' '))}</code>.</p>`,
    '<p class="note">Synthetic demo data only, and no password: choose who you are.</p>',
  ];
  if (v.message) out.push(`<p class="error" role="alert">${esc(v.message)}</p>`);
  const pk = v.picker;
  if (pk) {
    const hidden = Object.entries(pk.params).map(
      ([k, x]) => `<input type="hidden" name="${esc(k)}" value="${esc(x)}">`,
    );
    out.push(
      `<form method="get" action="${esc(v.action)}" role="search">${hidden.join('')}`,
      `<label for="q">Find a patient by name</label><input id="q" name="q" value="${esc(pk.q)}"> `,
      '<button type="submit">Search</button></form>',
    );
  }
  out.push(
    `<form method="post" action="${esc(v.action)}">`,
    `<input type="hidden" name="request" value="${esc(v.requestId)}"><input type="hidden" name="csrf" value="${esc(v.csrf)}">`,
    `<fieldset><legend>Practitioner</legend>${radios('practitioner', v.practitioners, true)}</fieldset>`,
  );
  if (v.contextPatient)
    out.push(
      `<p>Patient in context: ${esc(v.contextPatient.name)} <span class="note">(${esc(v.contextPatient.id)})</span></p>`,
    );
  if (pk) {
    const link = (page: number, label: string) => {
      const query = new URLSearchParams({ ...pk.params, ...(pk.q ? { q: pk.q } : {}), page: String(page) });
      return `<a href="${esc(`${v.action}?${query}`)}">${label}</a>`;
    };
    const nav = [
      pk.previous !== undefined ? link(pk.previous, 'Previous patients') : '',
      pk.next !== undefined ? link(pk.next, 'More patients') : '',
    ].filter(Boolean);
    out.push(
      '<fieldset><legend>Patient</legend>',
      pk.patients.length ? radios('patient', pk.patients, false) : '<p>No patient matches.</p>',
      nav.length ? `<p>${nav.join(' · ')}</p>` : '',
      '</fieldset>',
    );
  }
  out.push(
    '<button type="submit" name="action" value="approve">Sign in and allow</button>',
    '<button type="submit" name="action" value="deny" formnovalidate>Deny</button></form>',
  );
  return out.join('');
}
