/**
 * The surveillance API as the dashboard calls it: every call carries the bearer token (token.ts); a 401
 * forgets the token and throws SignInRequired, which sends the page back to the sign-in form.
 */
import { type Change, fileNameOf, problemText, type Rule, type Run, type WorklistPage } from './format.ts';
import { bearerToken, forgetToken } from './token.ts';

export class SignInRequired extends Error {}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The API is the same service's, beside the page: /surveillance. */
const BASE = '/surveillance';

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const token = bearerToken();
  if (!token) throw new SignInRequired('Sign in to see the worklist.');
  let res: Response;
  try {
    res = await fetch(`${BASE}${path}`, {
      ...init,
      headers: { accept: 'application/json', ...init.headers, authorization: `Bearer ${token}` },
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, 'The service could not be reached. Check the connection and try again.');
  }
  if (res.status === 401) {
    forgetToken();
    throw new SignInRequired('The service did not accept the token (HTTP 401). Sign in again.');
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiError(res.status, problemText(res.status, body));
  }
  return res;
}

export interface WorklistFilters {
  rules: Rule[];
  changes: Change[];
  patient: string;
  /** Pinned once the first page is read, so that paging stays on one run. */
  run?: string;
}

function worklistQuery(f: WorklistFilters, extra: Record<string, string>): string {
  const q = new URLSearchParams();
  if (f.rules.length) q.set('rule', f.rules.join(','));
  if (f.changes.length) q.set('change', f.changes.join(','));
  if (f.patient) q.set('patient', f.patient);
  if (f.run) q.set('run', f.run);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

export async function worklist(f: WorklistFilters, limit: number, cursor?: string): Promise<WorklistPage> {
  const extra: Record<string, string> = { limit: String(limit) };
  if (cursor) extra.cursor = cursor;
  const res = await call(`/worklist?${worklistQuery(f, extra)}`);
  return (await res.json()) as WorklistPage;
}

/** Every entry matching the filters as CSV (the server streams it whatever its length). */
export async function worklistCsv(f: WorklistFilters): Promise<{ blob: Blob; fileName: string }> {
  const res = await call(`/worklist?${worklistQuery(f, { format: 'csv' })}`, { headers: { accept: 'text/csv' } });
  return { blob: await res.blob(), fileName: fileNameOf(res.headers.get('content-disposition')) };
}

export async function runs(limit = 10): Promise<Run[]> {
  const res = await call(`/runs?limit=${limit}`);
  return ((await res.json()) as { runs: Run[] }).runs;
}

export async function run(id: string): Promise<Run> {
  const res = await call(`/runs/${encodeURIComponent(id)}`);
  return (await res.json()) as Run;
}

export async function startRun(): Promise<Run> {
  const res = await call('/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return (await res.json()) as Run;
}
