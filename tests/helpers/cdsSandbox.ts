/**
 * A test CDS client that sends exactly what the CDS Hooks Sandbox sends, as a browser sends it, and a harness that
 * runs the real application with that client trusted.
 *
 * Read from the Sandbox's source, https://github.com/cds-hooks/sandbox at
 * 3b7e25546771c6e7fc5e360aa7db6eb64af0b8b6 (the files named below are under src/ there):
 * - JWT (retrieve-data-helpers/jwt-generator.js): header `{alg: ES384, typ: JWT, kid: 44823f3d-…, jku:
 *   https://sandbox.cds-hooks.org/.well-known/jwks.json}`, payload `{iss, aud: the exact URL called,
 *   exp: now + 300, iat: now, jti: uuid v4}`, no tenant. The `jku` is always there: a suite that signs jku-less
 *   tokens cannot see a service refuse it. We sign with a key pair of our own under the Sandbox's kid, trusted
 *   inline as the Sandbox's issuer; the Sandbox's real private key (public in its repository) is not copied here.
 * - Discovery (retrieve-data-helpers/discovery-services-retrieval.js): `GET {discoveryUrl}` with
 *   `Accept: application/json`; each service is then called at `{discoveryUrl}/{id}`.
 * - Service call (retrieve-data-helpers/service-exchange.js): body `{hookInstance, hook, fhirServer, context}`,
 *   context `{patientId, userId, …hook context}`, then `prefetch` only when at least one key was had. Prefetch
 *   templates: `{{context.X}}` (primitives only), `{{userPractitionerId}}` & co. from userId, `{{today()}}`;
 *   a template with a token left unresolved is skipped; a read is `GET {fhirServer}/{Type}/{id}`; a search is
 *   `POST {fhirServer}/{Type}/_search` with the query as an application/x-www-form-urlencoded body, and
 *   `GET {fhirServer}/{Type}?{query}` only if that POST failed; all with `Accept: application/json+fhir`. A key
 *   whose request failed, or whose answer was empty, is left out (never null). An empty searchset Bundle is
 *   not "empty" to the Sandbox: it is sent as it is.
 * - Drafts (reducers/medication-reducers.js createFhirResource; components/RxView, components/RxSign): one
 *   MedicationRequest `request-123` with `status: draft`, doses in `{pill}`, `intent` and a `category` object
 *   only with a supply duration, `reasonCode` a bare CodeableConcept; a draftOrders Bundle without `type`.
 * - Feedback (components/CardList/card-list.jsx): `POST {serviceUrl}/feedback` with `{feedback: [one entry]}`.
 * - Launch (retrieve-data-helpers/fhir-metadata-retrieval.js, patient-retrieval.js): `GET /metadata`,
 *   `GET /Patient` (a 401 means a secured server), `GET /Patient/{id}`, `GET /Condition?patient={id}`.
 *
 * The Sandbox is a web page at https://sandbox.cds-hooks.org, so every request is cross-origin: this client
 * sends `Origin`, sends a CORS preflight exactly when a browser would (Fetch standard,
 * https://fetch.spec.whatwg.org/#cors-preflight-fetch: a method other than GET/HEAD/POST, or a header that is
 * not CORS-safelisted, such as `Authorization` or `Content-Type: application/json`), and treats an answer a
 * browser would hide from the page (no matching `Access-Control-Allow-Origin`) as the network error the page
 * would see.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryRepository } from '@medplum/fhir-router';
import type { CodeableConcept, Resource } from '@medplum/fhirtypes';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { ReplayCache, type ReplayStore } from '../../src/auth/cdsJwt.ts';
import { parseTrustedClients } from '../../src/auth/trustedClients.ts';
import { CDS_SERVICES } from '../../src/cdsHooks/services/index.ts';
import { resolveExposureConfig } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import type { Logger } from '../../src/log/logger.ts';
import { createApp } from '../../src/server/app.ts';

export const SANDBOX_ISS = 'https://sandbox.cds-hooks.org';
export const SANDBOX_KID = '44823f3d-0b01-4a6c-a80e-b9d3e8a7226f';
export const SANDBOX_JKU = 'https://sandbox.cds-hooks.org/.well-known/jwks.json';
export const SANDBOX_ORIGIN = 'https://sandbox.cds-hooks.org';
/** The Sandbox's default user (reducers/patient-reducers.js). */
export const SANDBOX_USER = 'Practitioner/COREPRACTITIONER1';

// ---------------------------------------------------------------------------------------------------------------
// Keys and tokens

export interface SandboxKey {
  privateKey: CryptoKey;
  /** The public half, under the Sandbox's kid: what a service trusts inline for the Sandbox's issuer. */
  publicJwk: JWK;
}

export async function createSandboxKey(): Promise<SandboxKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES384');
  return {
    privateKey: privateKey as CryptoKey,
    publicJwk: { kty: 'EC', use: 'sig', ...(await exportJWK(publicKey)), kid: SANDBOX_KID, alg: 'ES384' },
  };
}

/** The trusted-clients entry (src/auth/trustedClients.ts format) for a Sandbox signing with `key`. */
export const sandboxTrustedClient = (key: SandboxKey) => ({
  iss: SANDBOX_ISS,
  note: 'test key standing in for the CDS Hooks Sandbox',
  // As in cds-hooks/trusted-clients.sandbox.json: the Sandbox's key is public, so CDS calls only.
  uses: ['cds-hooks'],
  jwks: { keys: [key.publicJwk] },
});

export interface SignOptions {
  alg?: string;
  /** null: no kid. */
  kid?: string | null;
  /** null: no jku (the Sandbox always sends one). */
  jku?: string | null;
  iss?: string;
  /** A jose time span from now ('5m', '-2m'); the Sandbox's is exactly iat + 300 s. */
  exp?: string;
  jti?: string;
  key?: CryptoKey;
}

/** The Sandbox's JWT for one call to `aud` (the exact URL called), with its header and claims in its order. */
export async function signSandboxJwt(key: CryptoKey, aud: string, o: SignOptions = {}): Promise<string> {
  const header: Record<string, unknown> = { alg: o.alg ?? 'ES384', typ: 'JWT' };
  if (o.kid !== null) header.kid = o.kid ?? SANDBOX_KID;
  if (o.jku !== null) header.jku = o.jku ?? SANDBOX_JKU;
  const iat = Math.round(Date.now() / 1000);
  const jwt = new SignJWT({ iss: o.iss ?? SANDBOX_ISS, aud, exp: iat + 300, iat, jti: o.jti ?? randomUUID() });
  if (o.exp) jwt.setExpirationTime(o.exp);
  return jwt.setProtectedHeader(header as { alg: string }).sign(o.key ?? key);
}

// ---------------------------------------------------------------------------------------------------------------
// A browser's cross-origin fetch

/** What the page would see instead of an answer: the browser blocked it (a CORS failure is a network error). */
export class CorsError extends Error {}

export interface Exchange {
  kind: 'preflight' | 'request';
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  body?: string;
  status?: number;
  responseHeaders?: Headers;
  /** Why a browser would have blocked it. */
  blocked?: string;
}

export interface BrowserResponse {
  status: number;
  ok: boolean;
  headers: Headers;
  text: string;
  /** Parsed like axios does: JSON when the text is JSON, else the text itself. */
  data: unknown;
}

const SAFELISTED_METHODS = ['GET', 'HEAD', 'POST'];
const SAFELISTED_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
// CORS-unsafe request-header bytes (https://fetch.spec.whatwg.org/#cors-unsafe-request-header-byte).
// biome-ignore lint/suspicious/noControlCharactersInRegex: the Fetch standard lists control characters as unsafe
const UNSAFE_BYTE = /[\x00-\x08\x0a-\x1f"():<>?@[\\\]{}\x7f]/;

/** https://fetch.spec.whatwg.org/#cors-safelisted-request-header (the headers this client ever sends). */
function isSafelisted(name: string, value: string): boolean {
  if (value.length > 128) return false;
  switch (name) {
    case 'accept':
      return !UNSAFE_BYTE.test(value);
    case 'accept-language':
    case 'content-language':
      return /^[0-9A-Za-z *,\-.;=]*$/.test(value);
    case 'content-type':
      return !UNSAFE_BYTE.test(value) && SAFELISTED_CONTENT_TYPES.includes(value.split(';')[0]!.trim().toLowerCase());
    default:
      return false;
  }
}

/** Whether a browser may hand the answer to a page of `origin` (no credentials: axios's default). */
function allowsOrigin(headers: Headers, origin: string): string | undefined {
  const allowed = headers.get('access-control-allow-origin');
  if (allowed === null) return 'no Access-Control-Allow-Origin';
  if (allowed !== '*' && allowed !== origin) return `Access-Control-Allow-Origin is ${allowed}, not ${origin}`;
  return undefined;
}

const listOf = (h: string | null) =>
  (h ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

/**
 * Checks a preflight answer as a browser does (https://fetch.spec.whatwg.org/#cors-preflight-fetch): an ok
 * status, the origin allowed, the method listed (or safelisted, or `*`), every non-safelisted header listed
 * (`*` covers all but Authorization). Returns why it fails, or undefined.
 */
export function preflightFailure(
  status: number,
  headers: Headers,
  origin: string,
  method: string,
  headerNames: string[],
): string | undefined {
  if (status < 200 || status > 299) return `preflight status ${status}`;
  const origins = allowsOrigin(headers, origin);
  if (origins) return `preflight: ${origins}`;
  const methods = listOf(headers.get('access-control-allow-methods'));
  if (!SAFELISTED_METHODS.includes(method) && !methods.includes(method.toLowerCase()) && !methods.includes('*'))
    return `preflight: ${method} not in Access-Control-Allow-Methods`;
  const allowed = listOf(headers.get('access-control-allow-headers'));
  for (const name of headerNames)
    if (!allowed.includes(name) && !(allowed.includes('*') && name !== 'authorization'))
      return `preflight: ${name} not in Access-Control-Allow-Headers`;
  return undefined;
}

/**
 * fetch() as a page at `origin` does it: preflight when needed, `Origin` on the request, and the answer
 * withheld (CorsError) when CORS does not allow it. Every exchange is appended to `log`.
 */
export async function browserFetch(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  origin: string,
  log: Exchange[] = [],
): Promise<BrowserResponse> {
  const method = init.method.toUpperCase();
  const headers = Object.fromEntries(Object.entries(init.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const unsafe = Object.entries(headers)
    .filter(([k, v]) => !isSafelisted(k, v))
    .map(([k]) => k)
    .sort();
  if (!SAFELISTED_METHODS.includes(method) || unsafe.length > 0) {
    const requestHeaders: Record<string, string> = {
      accept: '*/*',
      origin,
      'access-control-request-method': method,
      ...(unsafe.length ? { 'access-control-request-headers': unsafe.join(',') } : {}),
    };
    const pre: Exchange = { kind: 'preflight', method: 'OPTIONS', url, requestHeaders };
    log.push(pre);
    let res: Response;
    try {
      res = await fetch(url, { method: 'OPTIONS', headers: requestHeaders });
    } catch (err) {
      pre.blocked = `preflight failed: ${(err as Error).message}`;
      throw new CorsError(pre.blocked);
    }
    await res.arrayBuffer();
    pre.status = res.status;
    pre.responseHeaders = res.headers;
    pre.blocked = preflightFailure(res.status, res.headers, origin, method, unsafe);
    if (pre.blocked) throw new CorsError(`${method} ${url}: ${pre.blocked}`);
  }
  const requestHeaders = { ...headers, origin };
  const ex: Exchange = { kind: 'request', method, url, requestHeaders, ...(init.body ? { body: init.body } : {}) };
  log.push(ex);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: requestHeaders,
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
  } catch (err) {
    ex.blocked = `network error: ${(err as Error).message}`;
    throw new CorsError(ex.blocked);
  }
  const text = await res.text();
  ex.status = res.status;
  ex.responseHeaders = res.headers;
  ex.blocked = allowsOrigin(res.headers, origin);
  if (ex.blocked) throw new CorsError(`${method} ${url}: ${ex.blocked}`);
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : '';
  } catch {
    // axios keeps a body that is not JSON as a string
  }
  return { status: res.status, ok: res.status >= 200 && res.status < 300, headers: res.headers, text, data };
}

// ---------------------------------------------------------------------------------------------------------------
// The Sandbox's drafts

export interface DraftOptions {
  patientId: string;
  /** RxNorm prescribable; default Prednisone 20 MG Oral Tablet (312615). */
  medication?: { code: string; name: string };
  /** Pills per dose; default 1 (the Sandbox's default). */
  pills?: number;
  frequency?: 'daily' | 'bid' | 'tid' | 'qid';
  /** Days of supply; the Sandbox's form starts at 30. null: none entered (then no intent and no category). */
  supplyDays?: number | null;
  start?: string;
  end?: string;
  /** The code of one of the patient's Conditions, chosen as the reason (Rx View only). */
  reason?: CodeableConcept;
  authoredOn?: string;
}

const FREQUENCY = { daily: 1, bid: 2, tid: 3, qid: 4 } as const;

/** The Sandbox's R4 draft MedicationRequest (createFhirResource), key for key. Not valid R4, on purpose. */
export function sandboxDraft(o: DraftOptions): Record<string, unknown> {
  const med = o.medication ?? { code: '312615', name: 'Prednisone 20 MG Oral Tablet' };
  const resource: Record<string, unknown> = {
    resourceType: 'MedicationRequest',
    id: 'request-123',
    status: 'draft',
    subject: { reference: `Patient/${o.patientId}` },
    authoredOn: o.authoredOn ?? new Date().toISOString().slice(0, 10),
  };
  const repeat: Record<string, unknown> = { frequency: FREQUENCY[o.frequency ?? 'daily'], period: 1 };
  const dosage = {
    timing: { repeat },
    doseAndRate: [{ doseQuantity: { value: o.pills ?? 1, system: 'http://unitsofmeasure.org', code: '{pill}' } }],
  };
  resource.dosageInstruction = [dosage];
  repeat.periodUnit = 'd';
  if (o.start || o.end) repeat.boundsPeriod = { start: o.start, end: o.end };
  const supplyDays = o.supplyDays === undefined ? 30 : o.supplyDays;
  if (supplyDays !== null) {
    resource.dispenseRequest = {
      expectedSupplyDuration: { value: supplyDays, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
    };
    resource.intent = 'order';
    resource.category = {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category', code: 'community' }],
    };
  }
  resource.medicationCodeableConcept = {
    text: med.name,
    coding: [{ display: med.name, system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: med.code }],
  };
  if (o.reason) resource.reasonCode = o.reason;
  return resource;
}

/** draftOrders as the Sandbox builds it: a Bundle without `type`. */
export const draftOrders = (...resources: unknown[]) => ({
  resourceType: 'Bundle',
  entry: resources.map((resource) => ({ resource })),
});

// ---------------------------------------------------------------------------------------------------------------
// The client

export interface ServiceDefinition {
  id: string;
  hook: string;
  title?: string;
  description?: string;
  prefetch?: Record<string, string>;
}

export interface HookCall {
  serviceUrl: string;
  /** The body sent. */
  request: {
    hookInstance: string;
    hook: string;
    fhirServer: string;
    context: Record<string, unknown>;
    prefetch?: Record<string, unknown>;
  };
  status: number;
  /** The answer: `{cards}` on 200, an OperationOutcome otherwise. */
  body: unknown;
}

/** What the Sandbox reads of a card to show it and to send feedback. */
export interface SandboxCard {
  uuid: string;
  summary: string;
  indicator: string;
  suggestions?: Array<{ uuid: string; label: string }>;
  overrideReasons?: Array<{ code: string; system?: string; display?: string }>;
}

export const cardsOf = (c: HookCall): SandboxCard[] => (c.body as { cards?: SandboxCard[] } | undefined)?.cards ?? [];

export interface SandboxClientOptions {
  /** The CDS Services discovery URL (the Sandbox's serviceDiscoveryURL). */
  discoveryUrl: string;
  /** The FHIR server (the Sandbox's fhirServiceUrl); open, as when the Sandbox is not SMART-launched. */
  fhirServer: string;
  patientId: string;
  userId?: string;
  privateKey: CryptoKey;
  origin?: string;
}

const formatDay = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

/** query-string@5's parse then stringify with each value encodeURIComponent'ed: keys sorted, values encoded. */
function encodeUriParameters(template: string): string {
  const at = template.indexOf('?');
  if (at < 0) return template;
  const params = new Map<string, string[]>();
  for (const part of template.slice(at + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    params.set(key, [...(params.get(key) ?? []), value]);
  }
  const query = [...params.keys()]
    .sort()
    .map((k) => `${k}=${encodeURIComponent(params.get(k)!.join(','))}`)
    .join('&');
  return `${template.slice(0, at)}?${query}`;
}

export class SandboxClient {
  readonly o: Required<SandboxClientOptions>;
  /** Every request this client made, preflights included, in order. */
  readonly exchanges: Exchange[] = [];
  /** Discovered services by service URL ({discoveryUrl}/{id}). */
  readonly services = new Map<string, ServiceDefinition>();
  patient?: Resource;
  conditions?: unknown;

  constructor(o: SandboxClientOptions) {
    this.o = { userId: SANDBOX_USER, origin: SANDBOX_ORIGIN, ...o };
  }

  sign(aud: string): Promise<string> {
    return signSandboxJwt(this.o.privateKey, aud);
  }

  private http(url: string, init: { method: string; headers: Record<string, string>; body?: string }) {
    return browserFetch(url, init, this.o.origin, this.exchanges);
  }

  /**
   * What the Sandbox does on opening with ?fhirServiceUrl=…&patientId=…: checks the FHIR server (metadata,
   * then an unauthenticated Patient search that must not be 401), then reads the patient and their Conditions.
   * Throws as the Sandbox would fail to connect.
   */
  async launch(): Promise<{ fhirVersion?: string; patient: Resource }> {
    const fhir = this.o.fhirServer;
    const metadata = await this.http(`${fhir}/metadata`, { method: 'GET', headers: { accept: 'application/json' } });
    if (!metadata.ok) throw new Error(`GET ${fhir}/metadata: ${metadata.status}`);
    const open = await this.http(`${fhir}/Patient`, { method: 'GET', headers: { accept: 'application/json' } });
    if (open.status === 401) throw new Error('secured FHIR server: the open Sandbox cannot use it');
    const headers = { accept: 'application/json+fhir' };
    const patient = await this.http(`${fhir}/Patient/${this.o.patientId}`, { method: 'GET', headers });
    if (!patient.ok || (patient.data as Resource).resourceType !== 'Patient')
      throw new Error(`GET ${fhir}/Patient/${this.o.patientId}: ${patient.status}`);
    this.patient = patient.data as Resource;
    try {
      const c = await this.http(`${fhir}/Condition?patient=${this.o.patientId}`, { method: 'GET', headers });
      if (c.ok) this.conditions = c.data;
    } catch {
      // the Sandbox goes on without the Conditions
    }
    return { fhirVersion: (metadata.data as { fhirVersion?: string }).fhirVersion, patient: this.patient };
  }

  /** GET {discoveryUrl}; remembers each service at {discoveryUrl}/{id}. */
  async discover(): Promise<{ status: number; services: ServiceDefinition[] }> {
    const url = this.o.discoveryUrl;
    const r = await this.http(url, {
      method: 'GET',
      headers: { accept: 'application/json', authorization: `Bearer ${await this.sign(url)}` },
    });
    const services = ((r.data as { services?: ServiceDefinition[] })?.services ?? []) as ServiceDefinition[];
    if (r.ok) for (const s of services) this.services.set(`${url}/${s.id}`, s);
    return { status: r.status, services };
  }

  /** The Sandbox's completePrefetchTemplate: tokens replaced, query values encoded. */
  completePrefetch(templates: Record<string, string>, context: Record<string, unknown>): Record<string, string> {
    const userId = String(context.userId ?? this.o.userId);
    const [userType, userRef] = userId.split('/');
    const userIds: Record<string, string | undefined> = {
      userPractitionerId: userType === 'Practitioner' ? userRef : undefined,
      userPractitionerRoleId: userType === 'PractitionerRole' ? userRef : undefined,
      userPatientId: userType === 'Patient' ? userRef : undefined,
      userRelatedPersonId: userType === 'RelatedPerson' ? userRef : undefined,
    };
    const today = new Date();
    today.setHours(0, 0, 0, 0);
    const out: Record<string, string> = {};
    for (const [key, template] of Object.entries(templates)) {
      let t = String(template ?? '')
        .replace(/\{\{\s*context\.patientId\s*}}/g, this.o.patientId)
        .replace(/\{\{\s*user\s*}}/g, userId)
        .replace(/\{\{\s*context\.userId\s*}}/g, userId)
        .replace(/\{\{\s*context\.([A-Za-z0-9_]+)\s*}}/g, (m, name: string) => {
          const v = context[name];
          return ['string', 'number', 'boolean'].includes(typeof v) ? String(v) : m;
        });
      for (const [name, value] of Object.entries(userIds))
        t = t.replace(new RegExp(`\\{\\{\\s*${name}\\s*}}`, 'g'), value ?? `{{${name}}}`);
      t = t
        .replace(/\{\{\s*today\(\)\s*}}/gi, formatDay(today))
        .replace(/\{\{\s*today\(\)\s*([+-])\s*(\d+)\s*days?\s*}}/gi, (_m, sign: string, n: string) => {
          const d = new Date(today);
          d.setDate(d.getDate() + (sign === '-' ? -1 : 1) * Number(n));
          return formatDay(d);
        });
      out[key] = encodeUriParameters(t);
    }
    return out;
  }

  /** The Sandbox's prefetchDataPromises: the keys it could fill; failed or empty ones are left out. */
  async prefetch(
    templates: Record<string, string>,
    context: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const result: Record<string, unknown> = {};
    const fhir = this.o.fhirServer;
    const headers = { accept: 'application/json+fhir' };
    const filled = (data: unknown) => !!data && Object.keys(data as object).length > 0;
    await Promise.all(
      Object.entries(this.completePrefetch(templates, context)).map(async ([key, value]) => {
        if (!value || /\{\{[^}]+}}/.test(value)) return;
        const [path, query] = value.split('?') as [string, string | undefined];
        if (!query) {
          try {
            const r = await this.http(`${fhir}/${path}`, { method: 'GET', headers });
            if (r.ok && filled(r.data)) result[key] = r.data;
          } catch {
            // left out
          }
          return;
        }
        const params = new URLSearchParams(query);
        try {
          const r = await this.http(`${fhir}/${path}/_search`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
            body: params.toString(),
          });
          if (r.ok) {
            if (filled(r.data)) result[key] = r.data;
            return; // an ok but empty answer is not retried with GET
          }
        } catch {
          // as a failed POST
        }
        try {
          const r = await this.http(`${fhir}/${path}?${params.toString()}`, { method: 'GET', headers });
          if (r.ok && filled(r.data)) result[key] = r.data;
        } catch {
          // left out
        }
      }),
    );
    return result;
  }

  /** Calls every discovered service for `hook`, as the Sandbox does when the hook fires. */
  async fire(hook: string, hookContext: Record<string, unknown> = {}): Promise<HookCall[]> {
    const calls = [...this.services].filter(([, s]) => s.hook === hook);
    return Promise.all(calls.map(([url, s]) => this.callService(url, s, hookContext)));
  }

  async callService(
    serviceUrl: string,
    service: ServiceDefinition,
    hookContext: Record<string, unknown> = {},
  ): Promise<HookCall> {
    const context: Record<string, unknown> = { patientId: this.o.patientId, userId: this.o.userId, ...hookContext };
    const request: HookCall['request'] = {
      hookInstance: randomUUID(),
      hook: service.hook,
      fhirServer: this.o.fhirServer,
      context,
    };
    if (service.prefetch && Object.keys(service.prefetch).length > 0) {
      const prefetch = await this.prefetch(service.prefetch, context);
      if (Object.keys(prefetch).length > 0) request.prefetch = prefetch;
    }
    const r = await this.http(serviceUrl, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        authorization: `Bearer ${await this.sign(serviceUrl)}`,
      },
      body: JSON.stringify(request),
    });
    return { serviceUrl, request, status: r.status, body: r.data };
  }

  private one(calls: HookCall[], hook: string): HookCall {
    if (calls.length !== 1) throw new Error(`expected one ${hook} service, discovered ${calls.length}`);
    return calls[0]!;
  }

  /** Patient View: context {patientId, userId}. */
  async patientView(): Promise<HookCall> {
    return this.one(await this.fire('patient-view'), 'patient-view');
  }

  /** Rx View: order-select with the draft selected. */
  async orderSelect(draft: Record<string, unknown>): Promise<HookCall> {
    const ctx = { selections: [`${draft.resourceType}/${draft.id}`], draftOrders: draftOrders(draft) };
    return this.one(await this.fire('order-select', ctx), 'order-select');
  }

  /** Rx Sign: order-sign when the user presses Sign. */
  async orderSign(draft: Record<string, unknown>): Promise<HookCall> {
    return this.one(await this.fire('order-sign', { draftOrders: draftOrders(draft) }), 'order-sign');
  }

  private async feedback(serviceUrl: string, entry: Record<string, unknown>): Promise<BrowserResponse> {
    const url = `${serviceUrl}/feedback`;
    return this.http(url, {
      method: 'POST',
      headers: {
        accept: 'application/json, text/plain, */*',
        'content-type': 'application/json',
        authorization: `Bearer ${await this.sign(url)}`,
      },
      body: JSON.stringify({ feedback: [entry] }),
    });
  }

  /** The user takes a suggestion (takeSuggestion in card-list.jsx). */
  acceptSuggestion(serviceUrl: string, card: string, suggestion: string): Promise<BrowserResponse> {
    return this.feedback(serviceUrl, {
      card,
      outcome: 'accepted',
      acceptedSuggestions: [{ id: suggestion }],
      outcomeTimestamp: new Date().toISOString(),
    });
  }

  /** The user dismisses a card, with one of its override reasons or none (dismissCard in card-list.jsx). */
  dismissCard(serviceUrl: string, card: string, reason?: { code: string; system?: string }): Promise<BrowserResponse> {
    return this.feedback(serviceUrl, {
      card,
      outcome: 'overridden',
      outcomeTimestamp: new Date().toISOString(),
      ...(reason?.code
        ? { overrideReason: { reason: { code: reason.code, ...(reason.system ? { system: reason.system } : {}) } } }
        : {}),
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The harness: the real application, in process, with the Sandbox trusted and an in-memory FHIR server

export interface CdsHarness {
  base: string;
  store: AuditStore;
  repo: MemoryRepository;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** A Sandbox JWT for `aud`; options make the bad ones the security tests need. */
  sign: (aud: string, opts?: SignOptions) => Promise<string>;
  /** POSTs `body` to a service as the Sandbox does (preflight, Origin, its headers, its JWT). */
  call: (service: string, body: unknown, token?: string) => Promise<{ status: number; body: any; headers: Headers }>;
  /** A Sandbox client against this harness (discovery at {base}/cds-services, FHIR at {base}/fhir). */
  sandbox: (patientId: string) => SandboxClient;
  /** Waits for the hook audit records written after each answer. */
  flushAudit: () => Promise<void>;
  close: () => Promise<void>;
}

export async function startCdsHarness(options: {
  now: string;
  resources?: Resource[];
  allowOpenFhirServer?: boolean;
  ingestToken?: string;
  /** Where jtis are remembered (default: in memory). */
  replay?: ReplayStore;
  /** The CDS routes' logger (refusals are logged at warn); none by default. */
  logger?: Logger;
}): Promise<CdsHarness> {
  loadFhirDefinitions();
  const key = await createSandboxKey();
  const store = await openAuditStore({ memory: true });
  const repo = new MemoryRepository();
  for (const r of options.resources ?? []) await repo.createResource(r);
  let base = '';
  const auditQueue = new HookAuditQueue(store.audit);
  const app = createApp({
    repo,
    ...(options.ingestToken
      ? {
          imaging: {
            auth: {
              staticToken: options.ingestToken,
              trustedClients: [],
              audience: 'unused',
              requiredScope: 'imaging',
            },
            fhirBaseUrl: () => `${base}/fhir`,
            audit: store.audit,
            now: () => new Date(options.now),
          },
        }
      : {}),
    cds: {
      services: CDS_SERVICES,
      auth: {
        trustedClients: parseTrustedClients([sandboxTrustedClient(key)]),
        replay: options.replay ?? new ReplayCache(),
      },
      audit: store.audit,
      deps: {
        exposure: resolveExposureConfig(),
        audit: auditQueue,
        publicUrl: () => base,
        allowOpenFhirServer: options.allowOpenFhirServer ?? false,
        now: () => new Date(options.now),
        logger: options.logger,
      },
    },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign: CdsHarness['sign'] = (aud, o) => signSandboxJwt(key.privateKey, aud, o);
  const call: CdsHarness['call'] = async (service, body, token) => {
    const url = `${base}/cds-services/${service}`;
    const r = await browserFetch(
      url,
      {
        method: 'POST',
        headers: {
          accept: 'application/json',
          'content-type': 'application/json',
          authorization: `Bearer ${token ?? (await sign(url))}`,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      },
      SANDBOX_ORIGIN,
    );
    return { status: r.status, body: r.text ? JSON.parse(r.text) : undefined, headers: r.headers };
  };
  return {
    base,
    store,
    repo,
    privateKey: key.privateKey,
    publicJwk: key.publicJwk,
    sign,
    call,
    sandbox: (patientId) =>
      new SandboxClient({
        discoveryUrl: `${base}/cds-services`,
        fhirServer: `${base}/fhir`,
        patientId,
        privateKey: key.privateKey,
      }),
    flushAudit: () => auditQueue.flush(),
    close: async () => {
      await new Promise((r) => server.close(r));
      await auditQueue.flush();
      await store.close();
    },
  };
}

/** A searchset Bundle as a client would prefetch it. */
export const searchset = (resources: Resource[]) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  total: resources.length,
  entry: resources.map((resource) => ({ resource })),
});
