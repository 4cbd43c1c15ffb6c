// Adds a service to services/local-mesh.json by inserting one line, so the file keeps its
// comment, its order and its (prettier) formatting; only a file that does not list one service
// per line is rewritten whole.

/** A service line of the local mesh manifest. */
export interface ManifestEntry {
  name: string;
  kind: string;
  entry: string;
}

const lineOf = (e: ManifestEntry) =>
  `{ ${Object.entries(e)
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ')} }`;

/** Where a new entry goes: tools before the first agent, agents before the console, else last. */
function positionOf(services: ManifestEntry[], kind: string): number {
  const before = kind === 'tool' ? ['agent', 'console'] : ['console'];
  const at = services.findIndex((s) => before.includes(s.kind));
  return at < 0 ? services.length : at;
}

/** The manifest text with `entry` added; throws when the name is taken. */
export function addManifestEntry(text: string, entry: ManifestEntry): string {
  const manifest = JSON.parse(text) as { services: ManifestEntry[] };
  if (manifest.services.some((s) => s.name === entry.name)) throw new Error(`${entry.name} already exists`);
  const at = positionOf(manifest.services, entry.kind);
  const lines = text.split('\n');
  const lineIndex = (name: string) => {
    const found = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes(`"name": ${JSON.stringify(name)}`));
    return found.length === 1 ? found[0]![1] : -1;
  };
  const indices = manifest.services.map((s) => lineIndex(s.name));
  const expected = [...manifest.services];
  expected.splice(at, 0, entry);
  const rewritten = `${JSON.stringify({ ...manifest, services: expected }, null, 2)}\n`;
  if (indices.some((i) => i < 0) || new Set(indices).size !== indices.length) return rewritten;
  if (at < indices.length) {
    const anchor = indices[at]!;
    const indent = /^\s*/.exec(lines[anchor]!)![0];
    lines.splice(anchor, 0, `${indent}${lineOf(entry)},`);
  } else {
    const last = indices[indices.length - 1]!;
    const indent = /^\s*/.exec(lines[last]!)![0];
    if (!lines[last]!.trimEnd().endsWith(',')) lines[last] = `${lines[last]!.trimEnd()},`;
    lines.splice(last + 1, 0, `${indent}${lineOf(entry)}`);
  }
  const result = lines.join('\n');
  // A layout this line-wise edit cannot follow (e.g. two entries on a line) gets the plain rewrite.
  try {
    const names = (JSON.parse(result) as { services: ManifestEntry[] }).services.map((s) => s.name);
    if (names.join() === expected.map((s) => s.name).join()) return result;
  } catch {
    // fall through to the rewrite
  }
  return rewritten;
}
