import type { Candidate } from './scope-match.js';

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Whether two candidates hold the same facts discovery matches on (what the index derives from a card). */
export function sameCard(a: Candidate, b: Candidate): boolean {
  if (a.kind !== b.kind || a.name !== b.name || a.version !== b.version) return false;
  if (a.purpose !== b.purpose || a.description !== b.description || !sameList(a.policies, b.policies)) return false;
  const labels = Object.keys(a.labels);
  if (labels.length !== Object.keys(b.labels).length || labels.some((k) => a.labels[k] !== b.labels[k])) return false;
  return (
    a.skills.length === b.skills.length &&
    a.skills.every((k, i) => {
      const l = b.skills[i]!;
      return k.id === l.id && k.name === l.name && k.description === l.description && sameList(k.tags, l.tags);
    })
  );
}
