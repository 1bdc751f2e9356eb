/**
 * A FHIR server that answers every request as told: for the faults a real server cannot be made to show on
 * demand (refusing every write, a cancellation at the first write). It records what it was sent.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FhirStub {
  /** Its FHIR base URL (loopback). */
  url: string;
  /** "METHOD path" of every request, in order. */
  requests: string[];
  headers: IncomingHttpHeaders[];
  close(): Promise<void>;
}

export async function fhirStub(
  answer: (method: string, url: string) => Promise<{ status: number; body: string }>,
): Promise<FhirStub> {
  const requests: string[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    headers.push(req.headers);
    req.resume();
    req.on('end', () => {
      void answer(req.method!, req.url!).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/fhir+json' });
        res.end(body);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`,
    requests,
    headers,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** What a server refusing a write says (an OperationOutcome with diagnostics, as HAPI writes it). */
export const FORBIDDEN = JSON.stringify({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'forbidden', diagnostics: 'scope system/Task.c not granted' }],
});
