/**
 * Structured logs (pino). Never log tokens or patient data: request paths are logged with resource ids
 * replaced, and the Authorization header and bodies are never logged.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'osteowatch' },
    redact: { paths: ['req.headers.authorization', 'authorization', 'token'], censor: '[redacted]' },
  });
}

/** "/fhir/Patient/ow-0001/_history/2?subject=…" → "/fhir/Patient/:id/_history/:vid". */
export function redactPath(path: string): string {
  const [p] = path.split('?');
  return (p ?? '').replace(/\/([A-Z][A-Za-z]+)\/[^/]+/g, '/$1/:id').replace(/\/_history\/[^/]+/, '/_history/:vid');
}
