import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { taperRequest } from './cdsRequest.ts';

const { privateKey, publicKey } = await generateKeyPair('ES384');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES384' };
const child = spawn(
  process.execPath,
  ['--cpu-prof', '--cpu-prof-dir=/tmp/cprof', new URL('./cdsServer.ts', import.meta.url).pathname],
  { env: { ...process.env, BENCH_CLIENT_JWK: JSON.stringify(jwk) }, stdio: ['ignore', 'pipe', 'inherit'] },
);
const port = await new Promise<number>((r) =>
  child.stdout.on('data', (d) => {
    const m = /ready (\d+)/.exec(String(d));
    if (m) r(Number(m[1]));
  }),
);
const url = `http://127.0.0.1:${port}/cds-services/osteonecrosis-screening`;
const toks = await Promise.all(
  Array.from({ length: 3000 }, () =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: 'bench' })
      .setIssuer('urn:bench')
      .setAudience(url)
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti(randomUUID())
      .sign(privateKey),
  ),
);
let i = 0;
const r = await autocannon({
  url,
  connections: 1,
  duration: 5,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(taperRequest(60)),
  requests: [
    {
      setupRequest: (req) => ({
        ...req,
        headers: { ...req.headers, authorization: `Bearer ${toks[i++ % toks.length]}` },
      }),
    },
  ],
});
console.log('rps', r.requests.average, 'non2xx', r.non2xx);
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
