import { describe, expect, it } from 'vitest';
import { isLoopbackUrl } from '../../src/fhir/loopback.ts';

describe('isLoopbackUrl: an open fhirServer is allowed only where it cannot be someone else’s', () => {
  it.each([
    'http://127.0.0.1:8080/fhir',
    'http://127.0.0.2/fhir',
    'http://127.255.255.254/fhir',
    'http://localhost:8080/fhir',
    'http://[::1]:8080/fhir',
    'http://[::ffff:127.0.0.1]/fhir',
    'http://[0:0:0:0:0:0:0:1]/fhir',
  ])('%s is loopback', (url) => expect(isLoopbackUrl(url)).toBe(true));

  it.each([
    'http://128.0.0.1/fhir',
    'http://10.0.0.1/fhir',
    'http://[::2]/fhir',
    'http://[::ffff:10.0.0.1]/fhir',
    'http://127.0.0.1.example.org/fhir',
    'http://localhost.example.org/fhir',
    'https://fhir.example.org/r4',
    'not a url',
    undefined,
  ])('%s is not', (url) => expect(isLoopbackUrl(url)).toBe(false));
});
