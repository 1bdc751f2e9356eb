/**
 * Whether a URL points at this machine: the whole IPv4 loopback block 127.0.0.0/8 (RFC 1122 §3.2.1.3), the
 * IPv6 loopback ::1 (RFC 4291 §2.5.3) and IPv4-mapped forms of either, and the name `localhost`
 * (RFC 6761 §6.3). Used to allow an unauthenticated `fhirServer` only where it cannot be someone else's.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopbackUrl(url: string | undefined): boolean {
  if (!url) return false;
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 4) return LOOPBACK.check(bare, 'ipv4');
  if (family === 6) return LOOPBACK.check(bare, 'ipv6');
  return false;
}
