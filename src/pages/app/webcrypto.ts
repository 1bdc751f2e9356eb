/**
 * Stands in for `isomorphic-webcrypto` in the page build (vite.config.ts alias): fhirclient requires it only
 * where the browser has no Web Crypto, which every browser the app supports has (PKCE needs crypto.subtle in a
 * secure context anyway). Saves shipping a 20 kB shim nobody runs.
 */
export default globalThis.crypto;
