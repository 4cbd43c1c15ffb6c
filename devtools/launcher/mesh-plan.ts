import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { MeshServiceKind } from '../../mesh/index.js';
import { parsePolicy, type ServicePolicy } from '../../mesh/index.js';
import { matchesSpiffePattern, spiffeIdOfService } from '../../mesh/index.js';

/** What kind of service a process of the local mesh is. */
export type ServiceKind = MeshServiceKind;

const manifestSchema = z.object({
  trustDomain: z.string().min(1).default('agentmesh.local'),
  services: z
    .array(
      z.object({
        name: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/),
        kind: z.enum(['auth', 'registry', 'tool', 'agent', 'console']),
        entry: z.string().min(1),
        /** Processes of this service (registry, tools, agents); more than one needs `database`. */
        replicas: z.number().int().min(1).max(9).default(1),
        /** Tool services: serve the tools over MCP too, on a port of their own (docs/mcp.md). */
        mcp: z.boolean().default(false),
      }),
    )
    .min(1)
    .refine((list) => list.every((s) => !s.mcp || s.kind === 'tool'), 'mcp: only tool services serve MCP'),
  /** A PostgreSQL URL every stateful service keeps its state in (a schema each); unset: SQLite per process. */
  database: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
});

/** The client the CLI (and people at the terminal) use: its own identity, allowed to log people in locally. */
export const CLI_CLIENT = 'agentmesh/cli';

/** One service of the local mesh, with everything decided before it starts. */
export interface PlannedService {
  name: string;
  kind: ServiceKind;
  entry: string;
  port: number;
  /** Admin HTTP port (/metrics, /livez, /readyz); the auth server has none. */
  adminPort: number | undefined;
  /** Agents: the port of the first replica's public A2A card (HTTPS, /.well-known/agent-card.json). */
  cardPort?: number;
  /** Tool services with `mcp`: the port of the first replica's MCP endpoint (HTTPS, /mcp). */
  mcpPort?: number;
  spiffeId: string;
  policy: ServicePolicy | undefined;
  /** Its processes, one per replica, the first on `port`/`adminPort`. */
  instances: PlannedInstance[];
}

/** One process (replica) of a service: the replicas share name, identity, registration and schema. */
export interface PlannedInstance {
  /** The service name, with `#<n>` when the service runs several replicas. */
  label: string;
  /** 1-based. */
  index: number;
  port: number;
  adminPort: number | undefined;
  /** Agents only: the port its public A2A card is served on (HTTPS, /.well-known/agent-card.json). */
  cardPort?: number;
  /** Tool services with `mcp` only: the port of its MCP endpoint (HTTPS, /mcp). */
  mcpPort?: number;
}

/** The OAuth2 client registration of a workload (no secret: that lives in the secrets file). */
export interface ClientRegistration {
  client_id: string;
  auth: { method: 'client_secret_basic'; secret_path: string };
  scopes: string[];
  audiences: string[];
  /** The service's policy.json (relative to the checkout): named when a caller is refused a token for it. */
  policy_file?: string;
  token_exchange?: boolean;
  impersonation?: boolean;
  client_credentials?: boolean;
}

/** The whole local mesh, planned. */
export interface MeshPlan {
  root: string;
  /** .agentmesh/ in the checkout. */
  home: string;
  trustDomain: string;
  basePort: number;
  services: PlannedService[];
  clients: ClientRegistration[];
  /** The shared PostgreSQL (services/local-mesh.json `database` or --database); never printed. */
  database: string | undefined;
}

/**
 * The default base port for a checkout: derived from its path, so a second
 * checkout on the same machine gets other ports (20000-29900, steps of 100).
 */
export function defaultBasePort(root: string): number {
  const h = createHash('sha256').update(resolve(root)).digest().readUInt32BE(0);
  return 20_000 + (h % 100) * 100;
}

/**
 * Offsets in the port block for agents' A2A card ports (then tool services' MCP ports): the block's spare ports first (gRPC takes 0-44,
 * admin 50-94), then the gRPC and admin ports of slots no process uses, from the top down — so a
 * service's gRPC and admin ports stay where they always were.
 */
function cardSlots(processes: number): number[] {
  const unused = Array.from({ length: 45 - processes }, (_, i) => 44 - i).flatMap((k) => [k, 50 + k]);
  return [45, 46, 47, 48, 49, 95, 96, 97, 98, 99, ...unused];
}

/** Scopes each kind of workload asks for. */
const SCOPES: Record<ServiceKind, string[]> = {
  auth: [],
  registry: [],
  tool: ['registry.register', 'registry.read'],
  agent: ['registry.register', 'registry.read', 'tools.invoke', 'task.read', 'task.write'],
  // Only ever for a signed-in person, and never more than their roles grant (see clientsOf).
  console: ['registry.read', 'task.read', 'task.write'],
};

/** Reads services/local-mesh.json and each service's policy.json; assigns ports from the base port. */
export function planMesh(
  root: string,
  options: { basePort?: number; manifest?: string; replicas?: Record<string, number>; database?: string } = {},
): MeshPlan {
  const file = options.manifest ?? join(root, 'services', 'local-mesh.json');
  const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success)
    throw new Error(`${file}: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`);
  const { trustDomain } = parsed.data;
  const database = options.database ?? parsed.data.database;
  const services = withReplicas(parsed.data.services, options.replicas ?? {}, database !== undefined);
  const basePort = options.basePort ?? defaultBasePort(root);
  if (basePort < 1024 || basePort + 99 > 65_535)
    throw new Error(`base port ${basePort}: must leave room for 100 ports between 1024 and 65535`);
  const processes = services.reduce((n, s) => n + s.replicas, 0);
  if (processes > 45)
    throw new Error('at most 45 processes (services and their replicas) fit the port block of a checkout');
  const agentProcesses = services.filter((s) => s.kind === 'agent').reduce((n, s) => n + s.replicas, 0);
  const mcpProcesses = services.filter((s) => s.mcp).reduce((n, s) => n + s.replicas, 0);
  const cardPorts = cardSlots(processes);
  if (agentProcesses + mcpProcesses > cardPorts.length)
    throw new Error(
      `${processes} processes, ${agentProcesses} of them agents with an A2A card port each and ${mcpProcesses} tool services with an MCP port each, do not fit the 100 ports of a checkout's block (two per process, a third per agent or MCP endpoint)`,
    );
  // Agents' card ports take the block's spare ports (after the gRPC and the admin ports), in order;
  // MCP ports the spare ports after all cards', so enabling MCP moves no agent's card.
  let nextCard = 0;
  let nextMcp = agentProcesses;
  // The first replica of each service keeps the port it always had; further replicas take the slots after the services.
  let nextSlot = services.length;
  const planned: PlannedService[] = services.map((s, i) => {
    const policyFile = join(root, dirname(s.entry), 'policy.json');
    const slots = [i, ...Array.from({ length: s.replicas - 1 }, () => nextSlot++)];
    const instances = slots.map((slot, k) => ({
      label: s.replicas > 1 ? `${s.name}#${k + 1}` : s.name,
      index: k + 1,
      port: basePort + slot,
      adminPort: s.kind === 'auth' ? undefined : basePort + 50 + slot,
      ...(s.kind === 'agent' ? { cardPort: basePort + cardPorts[nextCard++]! } : {}),
      ...(s.mcp ? { mcpPort: basePort + cardPorts[nextMcp++]! } : {}),
    }));
    return {
      ...s,
      port: instances[0]!.port,
      adminPort: instances[0]!.adminPort,
      ...(s.kind === 'agent' ? { cardPort: instances[0]!.cardPort } : {}),
      ...(s.mcp ? { mcpPort: instances[0]!.mcpPort } : {}),
      instances,
      spiffeId: spiffeIdOfService(trustDomain, s.name),
      policy: existsSync(policyFile)
        ? parsePolicy(JSON.parse(readFileSync(policyFile, 'utf8')), trustDomain)
        : undefined,
    };
  });
  return {
    root,
    home: join(root, '.agentmesh'),
    trustDomain,
    basePort,
    services: planned,
    clients: clientsOf(planned, trustDomain),
    database,
  };
}

/**
 * Applies --replicas overrides and refuses what cannot work: an unknown name,
 * replicas of the auth server or console (each is one URL), and more than one
 * replica without a shared database (SQLite belongs to one process).
 */
function withReplicas<S extends { name: string; kind: ServiceKind; replicas: number }>(
  services: S[],
  overrides: Record<string, number>,
  shared: boolean,
): S[] {
  for (const name of Object.keys(overrides))
    if (!services.some((s) => s.name === name))
      throw new Error(`--replicas ${name}: no such service (${services.map((s) => s.name).join(', ')})`);
  return services.map((s) => {
    const replicas = overrides[s.name] ?? s.replicas;
    if (replicas > 1 && (s.kind === 'auth' || s.kind === 'console'))
      throw new Error(
        `${s.name}: the ${s.kind === 'auth' ? 'auth server' : 'console'} runs as one process (its URL is one address)`,
      );
    if (replicas > 1 && !shared)
      throw new Error(
        `${s.name}: ${replicas} replicas need a shared PostgreSQL (--database postgresql://... or "database" in services/local-mesh.json); SQLite is one replica`,
      );
    return { ...s, replicas };
  });
}

/** The services whose policy lets `spiffeId` call at least one method: the audiences its tokens may name. */
function calleesOf(services: PlannedService[], spiffeId: string): string[] {
  return services
    .filter((s) => s.policy?.rules.some((r) => r.callers.some((c) => matchesSpiffePattern(c, spiffeId))))
    .map((s) => s.name);
}

/**
 * OAuth2 clients for every workload and the CLI: audiences derived from the
 * policies (a workload gets tokens only for services that would accept it),
 * token exchange for agents (they act for their callers), the dev login
 * (impersonation) and nothing else for the console.
 */
function clientsOf(services: PlannedService[], trustDomain: string): ClientRegistration[] {
  const secret = (id: string) => ({ method: 'client_secret_basic' as const, secret_path: `agentmesh/clients/${id}` });
  const workloads = services
    .filter((s) => s.kind !== 'auth')
    .map((s) => ({
      client_id: s.name,
      auth: secret(s.name),
      scopes: SCOPES[s.kind],
      audiences: calleesOf(services, s.spiffeId).filter((a) => a !== s.name),
      ...(s.policy ? { policy_file: join(dirname(s.entry), 'policy.json') } : {}),
      ...(s.kind === 'agent' ? { token_exchange: true } : {}),
      // The web console acts for people only: dev login, no tokens of its own.
      ...(s.kind === 'console' ? { impersonation: true, client_credentials: false } : {}),
    }));
  const cliId = spiffeIdOfService(trustDomain, CLI_CLIENT);
  const cli: ClientRegistration = {
    client_id: CLI_CLIENT,
    auth: secret(CLI_CLIENT),
    // tools.invoke: people's MCP clients on this machine call the tool services that admit the CLI's identity.
    scopes: ['task.read', 'task.write', 'registry.read', 'registry.admin', 'tools.invoke'],
    audiences: calleesOf(services, cliId),
    impersonation: true,
  };
  return [...workloads, cli];
}
