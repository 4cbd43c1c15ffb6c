import { api } from './api.js';
import { badge, h, replace, stateName } from './dom.js';
import { errorNotice, infoNotice } from './notice.js';
import type { CardJson, MatchJson } from './types.js';

const FIELDS = [
  { name: 'text', label: 'Free text', hint: 'purpose, description and skills' },
  { name: 'namespace', label: 'Namespace', hint: 'e.g. lending; several: comma-separated' },
  { name: 'skill', label: 'Skill', hint: 'skill id (tools: tool name)' },
  { name: 'tag', label: 'Tag', hint: 'skill tag, e.g. retail' },
  { name: 'policy', label: 'Policy', hint: 'required policy id, e.g. bank/kyc-2024' },
] as const;

/** The card of a match, whichever kind it is. */
export const cardOf = (m: MatchJson): { kind: 'agent' | 'tool'; card: CardJson } =>
  m.entry.agent ? { kind: 'agent', card: m.entry.agent } : { kind: 'tool', card: m.entry.tool! };

function result(m: MatchJson): HTMLElement {
  const { kind, card } = cardOf(m);
  const skills = kind === 'agent' ? (card.skills ?? []).map((s) => s.id) : (card.tools ?? []).map((t) => t.name);
  return h(
    'li',
    { class: 'result' },
    h(
      'h3',
      {},
      h('a', { href: `#/${kind}/${card.name}` }, card.name),
      ' ',
      h('span', { class: 'version' }, `@${card.version}`),
      ' ',
      badge(kind),
      ' ',
      badge(stateName(card.lifecycle, 'LIFECYCLE_')),
    ),
    h('p', {}, card.purpose),
    h(
      'p',
      { class: 'meta' },
      `${kind === 'agent' ? 'Skills' : 'Tools'}: ${skills.join(', ') || '-'}`,
      (card.policies ?? []).length ? ` · Policies: ${(card.policies ?? []).map((p) => p.id).join(', ')}` : '',
      ` · ${(card.endpoints ?? []).length} live instance(s) · owner ${card.owner}`,
    ),
    h('p', { class: 'reasons' }, `Matched: ${m.reasons.join('; ')}`),
  );
}

/** The marketplace: search agents and tools with the registry's scoping rules (the same Discover the CLI uses). */
export function marketplaceView(main: HTMLElement, query: URLSearchParams): void {
  const inputs = FIELDS.map((f) => ({
    f,
    input: h('input', {
      id: `q-${f.name}`,
      name: f.name,
      value: query.get(f.name) ?? '',
      'aria-describedby': `q-${f.name}-hint`,
      type: 'search',
    }),
  }));
  const kind = h(
    'select',
    { id: 'q-kind', name: 'kind' },
    h('option', { value: '' }, 'agents and tools'),
    h('option', { value: 'agent' }, 'agents'),
    h('option', { value: 'tool' }, 'tools'),
  );
  kind.value = query.get('kind') ?? '';
  const results = h('section', { 'aria-labelledby': 'results-title', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'search', role: 'search', 'aria-label': 'Find agents and tools' },
    inputs.map(({ f, input }) =>
      h(
        'div',
        { class: 'field' },
        h('label', { for: input.id }, f.label),
        input,
        h('span', { id: `${input.id}-hint`, class: 'hint' }, f.hint),
      ),
    ),
    h('div', { class: 'field' }, h('label', { for: 'q-kind' }, 'Kind'), kind),
    h('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const { f, input } of inputs) if (input.value.trim()) q.set(f.name, input.value.trim());
    if (kind.value) q.set('kind', kind.value);
    location.hash = `#/search?${q}`;
  });
  replace(
    main,
    h('h1', {}, 'Marketplace'),
    h(
      'p',
      {},
      'Find the agent or tool for a job: every field narrows the search; the best matches come first, with the reasons they matched.',
    ),
    form,
    results,
  );
  replace(results, infoNotice('Searching…'));
  const q = new URLSearchParams([...query].filter(([, v]) => v));
  api<{ matches: MatchJson[] }>('GET', `/api/discover?${q}`).then(
    ({ matches }) =>
      replace(
        results,
        h('h2', { id: 'results-title' }, `${matches.length} match${matches.length === 1 ? '' : 'es'}`),
        matches.length
          ? h('ol', { class: 'results' }, matches.map(result))
          : h('p', {}, 'Nothing matches. Loosen a field.'),
      ),
    (err: unknown) => replace(results, h('h2', { id: 'results-title' }, 'Results'), errorNotice(err, 'The search')),
  );
}
