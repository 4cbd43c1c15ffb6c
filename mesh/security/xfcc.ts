/**
 * Parses Envoy's x-forwarded-client-cert header: comma-separated elements
 * (one per proxy hop), each `Key=value` pairs separated by `;`, values
 * optionally double-quoted (quotes protect `,` `;` `=`; `\"` escapes a quote).
 */
export function parseXfcc(header: string): Record<string, string[]>[] | undefined {
  const elements: Record<string, string[]>[] = [];
  let element: Record<string, string[]> = {};
  let key = '';
  let value = '';
  let inKey = true;
  let quoted = false;
  const endPair = () => {
    const k = key.trim();
    if (k) (element[k] ??= []).push(value.trim());
    key = '';
    value = '';
    inKey = true;
  };
  for (let i = 0; i < header.length; i++) {
    const c = header[i]!;
    if (quoted) {
      if (c === '\\' && header[i + 1] === '"') value += header[++i];
      else if (c === '"') quoted = false;
      else value += c;
    } else if (c === '"' && !inKey) quoted = true;
    else if (c === '=' && inKey) inKey = false;
    else if (c === ';') endPair();
    else if (c === ',') {
      endPair();
      elements.push(element);
      element = {};
    } else if (inKey) key += c;
    else value += c;
  }
  // An unclosed quote would swallow the elements that follow it (the sidecar's own): refuse the header.
  if (quoted) return undefined;
  endPair();
  elements.push(element);
  return elements.filter((e) => Object.keys(e).length > 0);
}

/**
 * The immediate peer's URI SAN from an XFCC header: the last element is the
 * one the local sidecar appended for the connection it terminated; when
 * `self` is given, that element's `By` must be this workload's own identity.
 * A malformed header yields undefined.
 */
export function peerUriFromXfcc(header: string, self?: string): string | undefined {
  const last = parseXfcc(header)?.at(-1);
  if (!last) return undefined;
  if (self !== undefined && (last.By?.length !== 1 || last.By[0] !== self)) return undefined;
  return last.URI?.length === 1 ? last.URI[0] : undefined;
}
