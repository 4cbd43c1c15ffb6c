/**
 * The text of services/local-mesh.json with only the platform services (auth, registry) left,
 * in the file's own layout: every other service entry — on one line or, when prettier wrapped
 * it, on several — is removed whole, and the last one kept loses its trailing comma.
 */
export function platformManifest(text: string): string {
  const kept = text.replace(/\n[ \t]*\{[^{}]*\},?/g, (entry) => (/"kind": "(auth|registry)"/.test(entry) ? entry : ''));
  return kept.replace(/,(\s*\])/, '$1');
}
