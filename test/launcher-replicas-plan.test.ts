// How the launcher plans replicas from services/local-mesh.json and its flags: which
// processes, on which ports, and what it refuses before starting anything.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planMesh } from '../devtools/launcher/mesh-plan.js';
import { ROOT } from './helpers/processes.js';

const ORCHESTRATOR = 'lending/loan-orchestrator';
const DB = 'postgresql://127.0.0.1:5432/agentmesh_dev';

describe('planning replicas of the local mesh', () => {
  let dir: string;
  const shipped = JSON.parse(readFileSync(join(ROOT, 'services', 'local-mesh.json'), 'utf8')) as {
    services: { name: string }[];
  };
  /** services/local-mesh.json with `edit` applied, as a file of its own. */
  const manifest = (edit: (m: any) => void = () => undefined) => {
    const m = structuredClone(shipped);
    edit(m);
    const file = join(dir, `local-mesh-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(m));
    return file;
  };
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'agentmesh-plan-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the shipped file runs one process per service on SQLite, with the ports it always had', () => {
    const plan = planMesh(ROOT, { basePort: 30_000, manifest: manifest() });
    expect(plan.database).toBeUndefined();
    // Agents' A2A card ports take the spare ports of the block, in order; the MCP ports of the
    // tool services (`mcp: true`) the spare ports after them.
    const cardPorts = [30_045, 30_046, 30_047];
    const mcpPorts = [30_048, 30_049];
    plan.services.forEach((s, i) => {
      expect(s.instances).toEqual([
        {
          label: s.name,
          index: 1,
          port: 30_000 + i,
          adminPort: s.kind === 'auth' ? undefined : 30_050 + i,
          ...(s.kind === 'agent' ? { cardPort: cardPorts.shift() } : {}),
          ...(s.kind === 'tool' ? { mcpPort: mcpPorts.shift() } : {}),
        },
      ]);
    });
    expect(cardPorts).toEqual([]);
    expect(mcpPorts).toEqual([]);
  });

  test('replicas and database from the file; further replicas take the ports after the services', () => {
    const plan = planMesh(ROOT, {
      basePort: 30_000,
      manifest: manifest((m) => {
        m.database = DB;
        m.services.find((s: any) => s.name === ORCHESTRATOR).replicas = 3;
      }),
    });
    expect(plan.database).toBe(DB);
    const n = shipped.services.length;
    const i = shipped.services.findIndex((s) => s.name === ORCHESTRATOR);
    // The orchestrator is the third agent: card ports 45-47 of the block go to the agents' processes in order.
    expect(plan.services[i]!.instances).toEqual([
      { label: `${ORCHESTRATOR}#1`, index: 1, port: 30_000 + i, adminPort: 30_050 + i, cardPort: 30_047 },
      { label: `${ORCHESTRATOR}#2`, index: 2, port: 30_000 + n, adminPort: 30_050 + n, cardPort: 30_048 },
      { label: `${ORCHESTRATOR}#3`, index: 3, port: 30_000 + n + 1, adminPort: 30_050 + n + 1, cardPort: 30_049 },
    ]);
    // One client registration for the service, whatever its replicas.
    expect(plan.clients.filter((c) => c.client_id === ORCHESTRATOR)).toHaveLength(1);
  });

  test('flags override the file', () => {
    const plan = planMesh(ROOT, {
      manifest: manifest((m) => {
        m.database = 'postgresql://elsewhere/db';
        m.services.find((s: any) => s.name === ORCHESTRATOR).replicas = 3;
      }),
      replicas: { [ORCHESTRATOR]: 2, 'agentmesh/registry': 2 },
      database: DB,
    });
    expect(plan.database).toBe(DB);
    expect(plan.services.find((s) => s.name === ORCHESTRATOR)!.instances).toHaveLength(2);
    expect(plan.services.find((s) => s.name === 'agentmesh/registry')!.instances).toHaveLength(2);
  });

  test('mcp: only tool services serve it; a tool service without it has no MCP port', () => {
    expect(() =>
      planMesh(ROOT, { manifest: manifest((m) => (m.services.find((s: any) => s.name === ORCHESTRATOR).mcp = true)) }),
    ).toThrow(/services: mcp: only tool services serve MCP/);
    const plan = planMesh(ROOT, {
      basePort: 30_000,
      manifest: manifest((m) => m.services.forEach((s: any) => delete s.mcp)),
    });
    expect(plan.services.flatMap((s) => s.instances).filter((i) => i.mcpPort)).toEqual([]);
  });

  test('refused before anything starts: replicas without a database, of the auth server or console, of an unknown service', () => {
    const file = manifest();
    expect(() => planMesh(ROOT, { manifest: file, replicas: { [ORCHESTRATOR]: 2 } })).toThrow(
      `${ORCHESTRATOR}: 2 replicas need a shared PostgreSQL (--database postgresql://... or "database" in services/local-mesh.json); SQLite is one replica`,
    );
    expect(() => planMesh(ROOT, { manifest: file, replicas: { 'agentmesh/auth': 2 }, database: DB })).toThrow(
      /agentmesh\/auth: the auth server runs as one process/,
    );
    expect(() => planMesh(ROOT, { manifest: file, replicas: { 'agentmesh/console': 2 }, database: DB })).toThrow(
      /agentmesh\/console: the console runs as one process/,
    );
    expect(() => planMesh(ROOT, { manifest: file, replicas: { 'lending/nobody': 2 }, database: DB })).toThrow(
      /--replicas lending\/nobody: no such service/,
    );
    expect(() => planMesh(ROOT, { manifest: manifest((m) => (m.database = 'mysql://x/y')) })).toThrow(
      /database: must be a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    const many = Object.fromEntries(shipped.services.slice(1, 7).map((s) => [s.name, 9]));
    expect(() => planMesh(ROOT, { manifest: file, replicas: many, database: DB })).toThrow(/at most 45 processes/);
    // Twelve agent processes: card ports beyond the ten spare ones come from the slots no process uses.
    const twelve = planMesh(ROOT, {
      manifest: file,
      replicas: { 'lending/credit-risk': 9, 'lending/compliance': 2 },
      database: DB,
    });
    const ports = twelve.services.flatMap((s) =>
      s.instances.flatMap((i) => [
        i.port,
        ...(i.adminPort ? [i.adminPort] : []),
        ...(i.cardPort ? [i.cardPort] : []),
        ...(i.mcpPort ? [i.mcpPort] : []),
      ]),
    );
    expect(twelve.services.flatMap((s) => s.instances.filter((i) => i.cardPort))).toHaveLength(12);
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports.every((p) => p >= twelve.basePort && p < twelve.basePort + 100)).toBe(true);
    // Forty agent processes among 45 leave no unused slot: ten card ports for forty agents.
    expect(() =>
      planMesh(ROOT, {
        manifest: file,
        replicas: { 'lending/credit-risk': 30, 'lending/compliance': 9 },
        database: DB,
      }),
    ).toThrow(
      "45 processes, 40 of them agents with an A2A card port each and 2 tool services with an MCP port each, do not fit the 100 ports of a checkout's block (two per process, a third per agent or MCP endpoint)",
    );
  });
});
