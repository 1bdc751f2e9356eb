/**
 * Where the dashboard's bearer token comes from. Today: the audit API token the user typed into the sign-in
 * form, kept in sessionStorage (gone when the tab closes; never localStorage, never in a URL). A SMART/OIDC
 * sign-in would replace these three functions and nothing else.
 */
const KEY = 'osteowatch.dashboard.token';

/** The token to send, or null when the user must sign in. */
export function bearerToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function keepToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled: there is nothing to forget.
  }
}
