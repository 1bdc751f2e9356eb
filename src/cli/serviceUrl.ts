/**
 * The running service a command talks to (--url): its base URL checked before anything is sent, and what is said
 * when it cannot be reached — one place for the four clients (surveil, audit, hook, ingest).
 */
import { networkReason, OsteoWatchError } from '../errors.ts';

/** The --url as a base (no trailing slash); a usage error (exit 2) unless it is an absolute http(s) URL. */
export function serviceBase(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OsteoWatchError('usage', `--url "${raw}" is not a URL; e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OsteoWatchError('usage', `--url "${raw}" is not an http(s) URL; e.g. http://127.0.0.1:8080`);
  return raw.replace(/\/+$/, '');
}

/** Why the service at `base` did not answer: the network error's code (ECONNREFUSED …), else its message. */
export function unreachable(base: string, err: unknown): string {
  return `cannot reach ${base}: ${networkReason(err)}`;
}
