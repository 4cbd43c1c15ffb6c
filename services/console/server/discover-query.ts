import { EntryKind, type DiscoveryScope } from '../../../gen/agentmesh/v1/card.js';
import { HttpError } from './http-errors.js';

/** Search fields the marketplace offers; each may repeat or hold a comma-separated list. */
const LISTS = ['namespace', 'name', 'glob', 'regex', 'skill', 'tag', 'policy'] as const;

const listOf = (q: URLSearchParams, key: string) =>
  q
    .getAll(key)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);

/**
 * The registry's discovery scope for a marketplace search, so the page and
 * the API (and the CLI's `agents`) ask the registry the same question:
 * visibility from namespace/name/glob/regex, characteristics from text,
 * skill, tag, policy and kind.
 */
export function scopeFromQuery(q: URLSearchParams): DiscoveryScope {
  for (const key of q.keys()) {
    if (![...LISTS, 'text', 'kind', 'max'].includes(key))
      throw new HttpError(400, 'INVALID_ARGUMENT', `unknown search field "${key}"`);
  }
  const kind = q.get('kind') ?? '';
  if (!['', 'agent', 'tool'].includes(kind)) throw new HttpError(400, 'INVALID_ARGUMENT', 'kind: agent or tool');
  const [namespaces, names, globs, regexes, skillIds, tags, policies] = LISTS.map((k) => listOf(q, k)) as string[][];
  return {
    visibility: {
      namespaces: namespaces!,
      names: names!,
      patterns: [
        ...globs!.map((glob) => ({ pattern: { $case: 'glob' as const, glob } })),
        ...regexes!.map((regex) => ({ pattern: { $case: 'regex' as const, regex } })),
      ],
    },
    characteristics: {
      text: (q.get('text') ?? '').trim(),
      skillIds: skillIds!,
      tags: tags!,
      policies: policies!,
      labels: {},
      versionConstraint: '',
      kinds: kind ? [kind === 'agent' ? EntryKind.ENTRY_KIND_AGENT : EntryKind.ENTRY_KIND_TOOL] : [],
    },
  };
}
