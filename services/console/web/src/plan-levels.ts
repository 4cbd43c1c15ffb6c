// Lays a plan's steps out as a graph: each step in the column after the
// last of its dependencies, so parallel steps stand side by side.

/** A plan step as far as the layout cares. */
export interface StepNode {
  id: string;
  dependsOn?: string[];
}

/** The steps by column: column 0 has the steps without dependencies. Unknown dependencies are ignored; a cycle cannot occur (plans are validated). */
export function planLevels(steps: StepNode[]): string[][] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const level = new Map<string, number>();
  const levelOf = (id: string, seen: Set<string>): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = (byId.get(id)?.dependsOn ?? []).filter((d) => byId.has(d));
    const l = deps.length ? Math.max(...deps.map((d) => levelOf(d, seen))) + 1 : 0;
    level.set(id, l);
    return l;
  };
  const columns: string[][] = [];
  for (const s of steps) (columns[levelOf(s.id, new Set())] ??= []).push(s.id);
  return columns.filter(Boolean);
}
