/** Security settings from the environment: origin lists are parsed, normalised and refused by name. */
import { describe, expect, it } from 'vitest';
import { EnvError, loadSecurityConfig } from '../../src/config/env.ts';
import { contentSecurityPolicy } from '../../src/server/pageRoutes.ts';

describe('security configuration', () => {
  it('reads the pages’ extra origins into the Content-Security-Policy', () => {
    const c = loadSecurityConfig({
      OSTEOWATCH_PAGES_CONNECT_SRC: 'https://fhir.ehr.example.org, https://auth.ehr.example.org/',
      OSTEOWATCH_PAGES_FRAME_ANCESTORS: 'https://ehr.example.org',
    });
    expect(c.pagesConnectSrc).toEqual(['https://fhir.ehr.example.org', 'https://auth.ehr.example.org']);
    const csp = contentSecurityPolicy({ connectSrc: c.pagesConnectSrc, frameAncestors: c.pagesFrameAncestors });
    expect(csp).toContain("connect-src 'self' https://fhir.ehr.example.org https://auth.ehr.example.org");
    expect(csp).toContain("frame-ancestors 'self' https://ehr.example.org");
    expect(loadSecurityConfig({}).pagesConnectSrc).toEqual([]);
  });

  it('refuses a wildcard or a path, naming the variable', () => {
    for (const [name, value] of [
      ['OSTEOWATCH_PAGES_CONNECT_SRC', '*'],
      ['OSTEOWATCH_PAGES_FRAME_ANCESTORS', 'https://ehr.example.org/app'],
      ['OSTEOWATCH_CORS_ORIGINS', 'https://*.example.org'],
    ] as const) {
      expect(() => loadSecurityConfig({ [name]: value })).toThrow(EnvError);
      expect(() => loadSecurityConfig({ [name]: value })).toThrow(name);
    }
  });
});
