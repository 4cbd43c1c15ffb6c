import { api, type SessionInfo } from './api.js';
import { badge, h, jsonBlock, replace, stateName } from './dom.js';
import { errorNotice, infoNotice } from './notice.js';
import { skillForm } from './skill-form.js';
import type { CardJson } from './types.js';

function facts(card: CardJson, versions: string[]): HTMLElement {
  const row = (k: string, v: Node | string) => [h('dt', {}, k), h('dd', {}, v)];
  return h(
    'dl',
    { class: 'facts' },
    row('Version', card.version),
    row('Versions', versions.join(', ') || card.version),
    row('Lifecycle', badge(stateName(card.lifecycle, 'LIFECYCLE_'))),
    row('Owner', card.owner),
    row('Identity', card.identity ?? '-'),
    card.model?.model ? row('Model', `${card.model.provider ?? ''} ${card.model.model}`) : [],
    Object.keys(card.labels ?? {}).length
      ? row(
          'Labels',
          Object.entries(card.labels!)
            .map(([k, v]) => `${k}=${v}`)
            .join(', '),
        )
      : [],
  );
}

function instances(card: CardJson): HTMLElement {
  const endpoints = card.endpoints ?? [];
  if (!endpoints.length) return h('p', {}, 'No live instance: it is registered but not running.');
  return h(
    'table',
    {},
    h('caption', {}, `${endpoints.length} live instance(s)`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Instance'),
        h('th', { scope: 'col' }, 'gRPC address'),
        h('th', { scope: 'col' }, 'Admin address'),
      ),
    ),
    h(
      'tbody',
      {},
      endpoints.map((e) =>
        h('tr', {}, h('td', {}, e.instanceId ?? '-'), h('td', {}, e.address), h('td', {}, e.adminAddress ?? '-')),
      ),
    ),
  );
}

/** Where to get the agent's A2A card: a download of the registry's copy, its served URL, and whether the agent is external. */
function a2aSection(card: CardJson): HTMLElement[] {
  if (!card.a2a?.card) return [];
  const file = `${card.name.replace('/', '.')}.a2a-card.json`;
  return [
    h('h2', {}, 'A2A'),
    h(
      'p',
      { class: 'a2a' },
      card.a2a.external ? [badge('external A2A agent'), ' '] : null,
      h('a', { href: `/api/agents/${card.name}/a2a-card.json`, download: file }, 'Download the A2A card (JSON)'),
      card.a2a.cardUrl ? [' · served at ', h('code', {}, card.a2a.cardUrl)] : null,
    ),
  ];
}

function schemas(input: unknown, output: unknown, inputLabel: string, outputLabel: string): HTMLElement {
  return h(
    'details',
    { class: 'schemas' },
    h('summary', {}, `${inputLabel} and ${outputLabel.toLowerCase()}`),
    h('h5', {}, inputLabel),
    jsonBlock(input ?? {}, inputLabel),
    h('h5', {}, outputLabel),
    jsonBlock(output ?? {}, outputLabel),
  );
}

/** An agent's or tool service's page: its card, policies, skills (or tools) with schemas and examples, instances; for agents a form per skill that sends a task. */
export function cardPage(main: HTMLElement, kind: 'agent' | 'tool', name: string, session: SessionInfo): void {
  replace(main, h('h1', {}, name), infoNotice('Loading the card…'));
  api<{ card: CardJson; versions: string[] }>('GET', `/api/${kind}s/${name}`).then(
    ({ card, versions }) => {
      const skills = (card.skills ?? []).map((s) =>
        h(
          'section',
          { class: 'card skill', 'aria-labelledby': `skill-${s.id}` },
          h('h3', { id: `skill-${s.id}` }, s.name ?? s.id, ' ', h('code', {}, s.id)),
          h('p', {}, s.description ?? ''),
          (s.tags ?? []).length ? h('p', { class: 'meta' }, `Tags: ${s.tags!.join(', ')}`) : null,
          schemas(s.inputSchema, s.outputSchema, 'Input schema', 'Output schema'),
          (s.examples ?? []).length
            ? h(
                'details',
                {},
                h('summary', {}, `${s.examples!.length} example(s)`),
                h(
                  'ol',
                  {},
                  s.examples!.map((e) =>
                    h('li', {}, h('strong', {}, e.title ?? ''), e.text ? ` — ${e.text}` : '', jsonBlock(e.input ?? {})),
                  ),
                ),
              )
            : null,
          h('h4', {}, 'Send a task'),
          session.scopes.includes('task.write')
            ? null
            : h(
                'p',
                { class: 'hint' },
                `You (${session.user}) have no task.write scope: the agent will refuse a task from you.`,
              ),
          skillForm(name, s, (task) => (location.hash = `#/task/${name}/${task.id}`)),
        ),
      );
      const tools = (card.tools ?? []).map((t) =>
        h(
          'section',
          { class: 'card skill' },
          h('h3', {}, h('code', {}, t.name)),
          h('p', {}, t.description ?? ''),
          h('p', { class: 'meta' }, t.idempotent ? 'idempotent' : 'not idempotent: needs an idempotency key'),
          schemas(t.argumentsSchema, t.resultSchema, 'Arguments schema', 'Result schema'),
        ),
      );
      replace(
        main,
        h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Marketplace'), ' › ', name),
        h('h1', {}, card.name, ' ', badge(kind)),
        h('p', { class: 'purpose' }, card.purpose),
        card.description ? h('p', {}, card.description) : null,
        facts(card, versions),
        h('h2', {}, 'Policies'),
        (card.policies ?? []).length
          ? h(
              'ul',
              {},
              card.policies!.map((p) =>
                h('li', {}, h('code', {}, p.id), ` — ${p.description ?? ''}`, p.authority ? ` (${p.authority})` : ''),
              ),
            )
          : h('p', {}, 'No declared policies.'),
        kind === 'agent' ? a2aSection(card) : null,
        h('h2', {}, 'Live instances'),
        instances(card),
        h('h2', {}, kind === 'agent' ? 'Skills' : 'Tools'),
        kind === 'agent' ? skills : tools,
        kind === 'tool'
          ? h('p', { class: 'hint' }, 'Tools are called by agents inside their plans; people engage the agents.')
          : null,
      );
    },
    (err: unknown) => replace(main, h('h1', {}, name), errorNotice(err, `Reading the card of ${name}`)),
  );
}
