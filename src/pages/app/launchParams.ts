/**
 * What a launch URL asks for (no DOM, no fhirclient: unit-tested in Node). SMART App Launch 2.x: an EHR launch
 * carries `iss` and `launch` and asks for the `launch` scope; a standalone launch carries at most `iss` and asks
 * for `launch/patient`, so that the authorization server has the user pick the patient.
 */

/** The app's client registration at the demo's authorization server (a public client, PKCE). */
export const CLIENT_ID = 'osteowatch-timeline';

/** What the app reads: the patient's records (read and search), and who the user is. */
export const DATA_SCOPES = 'patient/*.rs openid fhirUser';

export interface LaunchParams {
  iss: string;
  launch?: string;
  scope: string;
  kind: 'ehr' | 'standalone';
}

/** The launch URL's parameters; `defaultIss` (the demo's FHIR server) when it names none. */
export function launchParams(url: URL, defaultIss: string): LaunchParams {
  const launch = url.searchParams.get('launch') ?? undefined;
  const iss = url.searchParams.get('iss') ?? url.searchParams.get('fhirServiceUrl') ?? defaultIss;
  return launch
    ? { iss, launch, scope: `launch launch/patient ${DATA_SCOPES}`, kind: 'ehr' }
    : { iss, scope: `launch/patient ${DATA_SCOPES}`, kind: 'standalone' };
}
