import { addManifestEntry } from './manifest-entry.js';

const MANIFEST = `{
  "$comment": "The services npm start runs.",
  "trustDomain": "agentmesh.local",
  "services": [
    { "name": "agentmesh/auth", "kind": "auth", "entry": "services/auth/main.ts" },
    { "name": "banking/records", "kind": "tool", "entry": "services/tools/records/main.ts" },
    { "name": "lending/risk", "kind": "agent", "entry": "services/agents/risk/main.ts" },
    { "name": "agentmesh/console", "kind": "console", "entry": "services/console/main.ts" }
  ]
}
`;

describe('adding a service to services/local-mesh.json', () => {
  test('an agent goes before the console and a tool before the first agent, one line each; nothing else changes', () => {
    const withAgent = addManifestEntry(MANIFEST, {
      name: 'demo/triage',
      kind: 'agent',
      entry: 'services/agents/triage/main.ts',
    });
    const both = addManifestEntry(withAgent, {
      name: 'demo/words',
      kind: 'tool',
      entry: 'services/tools/words/main.ts',
    });
    expect(both).toBe(`{
  "$comment": "The services npm start runs.",
  "trustDomain": "agentmesh.local",
  "services": [
    { "name": "agentmesh/auth", "kind": "auth", "entry": "services/auth/main.ts" },
    { "name": "banking/records", "kind": "tool", "entry": "services/tools/records/main.ts" },
    { "name": "demo/words", "kind": "tool", "entry": "services/tools/words/main.ts" },
    { "name": "lending/risk", "kind": "agent", "entry": "services/agents/risk/main.ts" },
    { "name": "demo/triage", "kind": "agent", "entry": "services/agents/triage/main.ts" },
    { "name": "agentmesh/console", "kind": "console", "entry": "services/console/main.ts" }
  ]
}
`);
  });

  test('appended after the last entry, that entry gets its comma', () => {
    const noConsole = MANIFEST.replace(/,\n.*agentmesh\/console.*\n/, '\n');
    const added = addManifestEntry(noConsole, { name: 'demo/triage', kind: 'agent', entry: 'e.ts' });
    expect(added).toContain(
      '    { "name": "lending/risk", "kind": "agent", "entry": "services/agents/risk/main.ts" },\n    { "name": "demo/triage", "kind": "agent", "entry": "e.ts" }\n  ]',
    );
    expect(JSON.parse(added)).toMatchObject({ $comment: 'The services npm start runs.' });
  });

  test('a file that does not list one service per line is rewritten whole, still valid and in order', () => {
    const oneLine = JSON.stringify(JSON.parse(MANIFEST));
    const added = JSON.parse(addManifestEntry(oneLine, { name: 'demo/words', kind: 'tool', entry: 'e.ts' })) as {
      services: { name: string }[];
    };
    expect(added.services.map((s) => s.name)).toEqual([
      'agentmesh/auth',
      'banking/records',
      'demo/words',
      'lending/risk',
      'agentmesh/console',
    ]);
  });

  test('a name that is taken is refused', () => {
    expect(() => addManifestEntry(MANIFEST, { name: 'lending/risk', kind: 'agent', entry: 'e.ts' })).toThrow(
      'lending/risk already exists',
    );
  });
});
