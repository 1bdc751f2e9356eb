/**
 * The SMART App Launch entry (https://hl7.org/fhir/smart-app-launch/app-launch.html), at /app/launch.html (and
 * /app/launch): an EHR launch arrives with `iss` and `launch`; a standalone launch with `iss` only, or with
 * nothing, when the demo's own FHIR server is meant. fhirclient discovers the server's SMART configuration and
 * sends the browser to its authorization endpoint (authorization code with PKCE, S256); the answer comes back to
 * ./ (index.html, main.ts).
 */
import FHIR from 'fhirclient/lib/entry/browser.js';
import { CLIENT_ID, launchParams } from './launchParams.ts';

const status = document.getElementById('launch-status');
const error = document.getElementById('launch-error');

async function launch(): Promise<void> {
  const params = launchParams(new URL(window.location.href), `${window.location.origin}/fhir`);
  if (status)
    status.textContent = params.launch
      ? `Launched from the EHR: connecting to ${params.iss}…`
      : `Standalone launch: connecting to ${params.iss}…`;
  await FHIR.oauth2.authorize({
    clientId: CLIENT_ID,
    scope: params.scope,
    redirectUri: './',
    iss: params.iss,
    ...(params.launch ? { launch: params.launch } : {}),
    pkceMode: 'required',
    // Never silently complete the launch in another window: the app is opened in its own tab.
    completeInTarget: true,
  });
}

launch().catch((err: unknown) => {
  if (status) status.hidden = true;
  if (error) {
    error.hidden = false;
    error.textContent = `The launch failed: ${err instanceof Error ? err.message : String(err)}`;
  }
});
