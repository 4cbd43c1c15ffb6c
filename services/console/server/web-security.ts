import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http-errors.js';

/** Scripts, styles and connections from this origin only; no inline code, no framing, no external origins. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The headers every answer of the console carries. No HSTS: the console runs on the person's
 * own machine, and HSTS for localhost would force HTTPS on every other local server too.
 */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
}

/** The session cookie: HTTPS only, out of reach of scripts, never sent by other sites. */
export function sessionCookie(name: string, value: string, maxAgeSec: number): string {
  return `${name}=${value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAgeSec}`;
}

/** The value of one cookie of a request. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** True when two secrets are equal, in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function originOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a state-changing request another site could have made: its Origin
 * (or Referer) must be this console's own, and the CSRF token of the session
 * must come back in the x-csrf-token header, which only this origin's scripts can set.
 */
export function checkSameOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin ?? originOf(req.headers.referer);
  if (!origin || origin !== `https://${req.headers.host}`)
    throw new HttpError(403, 'CSRF', 'cross-site request refused: send it from the console page');
}

/** Checks the x-csrf-token header against the session's token. */
export function checkCsrfToken(req: IncomingMessage, expected: string): void {
  const sent = req.headers['x-csrf-token'];
  if (typeof sent !== 'string' || !sameSecret(sent, expected))
    throw new HttpError(403, 'CSRF', 'missing or wrong CSRF token: reload the page');
}
