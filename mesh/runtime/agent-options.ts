import { z } from 'zod';
import { ConfigError, loadConfig } from '../config/index.js';
import {
  compileServiceOptions,
  parseOptions,
  type CompiledServiceOptions,
  type ServiceOptions,
} from '../service/index.js';
import type { StateConfig, Store } from '../state/index.js';
import { DEFAULT_TASK_LEASE_MS, DEFAULT_TASK_TIMEOUT_MS } from './agent-runtime.js';
import { parseModelAliases } from './chat-model.js';
import { defaultAgentPolicy } from './default-policy.js';
import { compileStoreOption } from './store-option.js';
import { DEFAULT_AUDITOR_ROLES } from './task-access.js';
import type { Planner } from './planner.js';

const ROUTE = /^(agent:|tool:)?[a-z0-9-]+\/[a-z0-9-]+=[^,=\s]+$/;
const SERVICE_NAME = /^[a-z0-9-]+\/[a-z0-9-]+$/;
const ADDRESS = /^[^,=\s]+:\d+$/;
const TIMEOUT = { min: 1_000, max: 86_400_000 };
const LEASE = { min: 300, max: 600_000 };
const ROLE = /^[^\s,]+$/;
/** An origin the card is advertised at: scheme, host and port, nothing after. */
const ORIGIN = /^https?:\/\/[^/?#\s]+$/;
const ORIGIN_MESSAGE = 'must be an origin, http(s)://host[:port] with no path';
/** mcp/ or a folder below it (the registry accepts no MCP secret reference outside mcp/). */
const MCP_PREFIX = /^mcp\/([A-Za-z0-9_-][A-Za-z0-9_.-]*\/)*$/;
const MCP_PREFIX_MESSAGE = 'must be mcp/ or a folder below it, ending with /';

/** The environment variables an agent reads beyond the service kit's; each has an AgentOptions counterpart. */
const agentEnvSchema = z.object({
  /** Static routes for small deployments: "[agent:|tool:]ns/name=host:port,..." (tool when no kind); otherwise collaborators are discovered. */
  AGENTMESH_COLLABORATOR_ADDRESSES: z
    .string()
    .refine((v) => v.split(',').every((r) => ROUTE.test(r)), 'must be [agent:|tool:]ns/name=host:port,...')
    .optional(),
  /** auto (default): the LLM planner when OPENAI_API_KEY is set, else playbooks; or force one. */
  AGENTMESH_PLANNER: z.enum(['auto', 'playbook', 'llm']).default('auto'),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: z.string().url().optional(),
  /** The planning model (default: the card's model). */
  OPENAI_MODEL: z.string().optional(),
  /** Model aliases for LLM steps: "alias=model[@baseURL],...". */
  AGENTMESH_MODELS: z.string().optional(),
  /** The longest one run of a task may take, ms (see AgentRuntimeOptions.taskTimeoutMs). */
  AGENTMESH_TASK_TIMEOUT_MS: z.coerce.number().int().min(TIMEOUT.min).max(TIMEOUT.max).default(DEFAULT_TASK_TIMEOUT_MS),
  /** How long a replica's hold on a running task lasts unrenewed, ms (see AgentRuntimeOptions.leaseMs). */
  AGENTMESH_TASK_LEASE_MS: z.coerce.number().int().min(LEASE.min).max(LEASE.max).default(DEFAULT_TASK_LEASE_MS),
  /** Roles (token `roles`/`groups`) whose holders read every task and change none: "role,...". */
  AGENTMESH_AUDITOR_ROLES: z
    .string()
    .refine((v) => v.split(',').every((r) => ROLE.test(r.trim())), 'must be role,role,... (no empty names)')
    .default(DEFAULT_AUDITOR_ROLES.join(',')),
  /** Port of the public A2A card server (/.well-known/agent-card.json); 0: any free port. */
  AGENTMESH_A2A_CARD_PORT: z.coerce.number().int().min(0).max(65_535).default(0),
  /** Interface the card server binds (default: AGENTMESH_HOST). */
  AGENTMESH_A2A_CARD_HOST: z.string().min(1).optional(),
  /** The origin the card is advertised at (default: the bound host and port). */
  AGENTMESH_A2A_CARD_ORIGIN: z.string().regex(ORIGIN, ORIGIN_MESSAGE).optional(),
  /** The folder of the secrets provider external MCP entries may name secrets in. */
  AGENTMESH_MCP_SECRET_PREFIX: z.string().regex(MCP_PREFIX, MCP_PREFIX_MESSAGE).default('mcp/'),
});

/** A model alias for LLM steps: the model name, and the endpoint when not OPENAI_BASE_URL. */
export interface ModelAlias {
  model: string;
  baseURL?: string;
}

/** Static collaborator routes, "namespace/name" → "host:port", instead of discovery. */
export interface CollaboratorAddresses {
  tools?: Record<string, string>;
  agents?: Record<string, string>;
}

/** An agent's configuration in code; each option overrides the environment variable named in its comment. */
export interface AgentOptions extends ServiceOptions {
  /** A Planner object, or the choice among the built-in ones (AGENTMESH_PLANNER): auto, playbook or llm. */
  planner?: Planner | 'auto' | 'playbook' | 'llm';
  /** The OpenAI-compatible endpoint of the LLM planner and LLM steps (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL). */
  openai?: { apiKey?: string; baseURL?: string; model?: string };
  /** Model aliases for LLM steps (AGENTMESH_MODELS): alias → model name or { model, baseURL }. */
  models?: Record<string, string | ModelAlias>;
  /** Static routes to collaborators (AGENTMESH_COLLABORATOR_ADDRESSES); the rest are discovered. */
  collaborators?: CollaboratorAddresses;
  /** The longest one run of a task may take, ms (AGENTMESH_TASK_TIMEOUT_MS, default 300000). */
  taskTimeoutMs?: number;
  /** How long a replica's hold on a running task lasts unrenewed, ms (AGENTMESH_TASK_LEASE_MS, default 10000). */
  taskLeaseMs?: number;
  /** Roles whose holders read every task and explanation and change nothing (AGENTMESH_AUDITOR_ROLES, default ["auditor"]). */
  auditorRoles?: string[];
  /**
   * The agent's store: an opened Store (the agent closes it at shutdown), or
   * state settings overriding their variables (DATABASE_URL, AGENTMESH_DATA_DIR...).
   */
  store?: Store | Partial<StateConfig>;
  /**
   * The public A2A card server: port (AGENTMESH_A2A_CARD_PORT, default 0 = any
   * free port), interface (AGENTMESH_A2A_CARD_HOST, default AGENTMESH_HOST) and
   * advertised origin (AGENTMESH_A2A_CARD_ORIGIN, default the bound host:port).
   */
  a2aCard?: A2aCardOptions;
  /** The folder external MCP entries may name secrets in (AGENTMESH_MCP_SECRET_PREFIX, default "mcp/"). */
  mcpSecretPrefix?: string;
}

/** Where the agent serves its public A2A card (A2A §8.2): code options over AGENTMESH_A2A_CARD_*. */
export interface A2aCardOptions {
  port?: number;
  host?: string;
  /** http(s)://host[:port], what the card URL registered and advertised starts with. */
  origin?: string;
}

/** AgentOptions merged with the environment and validated, once, at startup. */
export interface CompiledAgentOptions {
  service: CompiledServiceOptions;
  /** A Planner given in code, or the built-in choice. */
  planner: Planner | 'auto' | 'playbook' | 'llm';
  openai: { apiKey?: string; baseURL?: string; model?: string };
  models: Map<string, ModelAlias>;
  routes: { tools: Map<string, string>; agents: Map<string, string> };
  taskTimeoutMs: number;
  taskLeaseMs: number;
  /** Roles whose holders audit: read everything, change nothing. */
  auditorRoles: string[];
  /** An opened store to use, or the settings to open one with. */
  store: { opened: Store } | { config: StateConfig };
  /** The card server's port and interface (undefined: AGENTMESH_HOST), and its advertised origin (undefined: the bound one). */
  a2aCard: { port: number; host?: string; origin?: string };
  /** The folder external MCP entries may name secrets in. */
  mcpSecretPrefix: string;
}

const routesSchema = z.record(
  z.string().regex(SERVICE_NAME, 'must be namespace/name'),
  z.string().regex(ADDRESS, 'must be host:port'),
);

const agentOptionsSchema = z.object({
  planner: z
    .union(
      [
        z.enum(['auto', 'playbook', 'llm']),
        z.custom<Planner>((v) => typeof (v as Planner | null)?.plan === 'function'),
      ],
      { error: 'must be auto, playbook, llm or a Planner' },
    )
    .optional(),
  openai: z
    .object({ apiKey: z.string().min(1).optional(), baseURL: z.url().optional(), model: z.string().min(1).optional() })
    .optional(),
  models: z
    .record(
      z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'alias must be letters, digits, _ or -'),
      z.union([z.string().min(1), z.object({ model: z.string().min(1), baseURL: z.url().optional() })]),
    )
    .optional(),
  collaborators: z.object({ tools: routesSchema.optional(), agents: routesSchema.optional() }).optional(),
  taskTimeoutMs: z.number().int().min(TIMEOUT.min).max(TIMEOUT.max).optional(),
  taskLeaseMs: z.number().int().min(LEASE.min).max(LEASE.max).optional(),
  auditorRoles: z.array(z.string().regex(ROLE, 'must be a role name (no spaces or commas)')).optional(),
  a2aCard: z
    .object({
      port: z.number().int().min(0).max(65_535).optional(),
      host: z.string().min(1).optional(),
      origin: z.string().regex(ORIGIN, ORIGIN_MESSAGE).optional(),
    })
    .optional(),
  mcpSecretPrefix: z.string().regex(MCP_PREFIX, MCP_PREFIX_MESSAGE).optional(),
});

/** Routes of AGENTMESH_COLLABORATOR_ADDRESSES, by kind. */
function parseRoutes(spec: string | undefined): CompiledAgentOptions['routes'] {
  const tools = new Map<string, string>();
  const agents = new Map<string, string>();
  for (const route of (spec ?? '').split(',').filter(Boolean)) {
    const [kindName, address] = route.split('=') as [string, string];
    const [kind, name] = kindName.includes(':') ? (kindName.split(':') as [string, string]) : ['tool', kindName];
    (kind === 'agent' ? agents : tools).set(name, address);
  }
  return { tools, agents };
}

/**
 * Compiles an agent's options once, at startup: code options are validated (a
 * ConfigError names the option), override their environment variables (a bad
 * variable is named too), and the caller policy falls back to the built-in
 * agent default. The result is all the agent reads.
 */
export function compileAgentOptions(
  name: string,
  options: AgentOptions,
  env: NodeJS.ProcessEnv = process.env,
): CompiledAgentOptions {
  const o = parseOptions(agentOptionsSchema, options);
  const service = compileServiceOptions(name, options, env, defaultAgentPolicy);
  const e = loadConfig(agentEnvSchema, service.env);
  const models = o.models
    ? new Map(Object.entries(o.models).map(([alias, m]) => [alias, typeof m === 'string' ? { model: m } : m]))
    : (() => {
        try {
          return parseModelAliases(e.AGENTMESH_MODELS);
        } catch (err) {
          throw new ConfigError('AGENTMESH_MODELS', (err as Error).message);
        }
      })();
  const routes = o.collaborators
    ? {
        tools: new Map(Object.entries(o.collaborators.tools ?? {})),
        agents: new Map(Object.entries(o.collaborators.agents ?? {})),
      }
    : parseRoutes(e.AGENTMESH_COLLABORATOR_ADDRESSES);
  return {
    service,
    planner: options.planner ?? e.AGENTMESH_PLANNER,
    openai: {
      apiKey: o.openai?.apiKey ?? e.OPENAI_API_KEY,
      baseURL: o.openai?.baseURL ?? e.OPENAI_BASE_URL,
      model: o.openai?.model ?? e.OPENAI_MODEL,
    },
    models,
    routes,
    taskTimeoutMs: o.taskTimeoutMs ?? e.AGENTMESH_TASK_TIMEOUT_MS,
    taskLeaseMs: o.taskLeaseMs ?? e.AGENTMESH_TASK_LEASE_MS,
    auditorRoles: o.auditorRoles ?? e.AGENTMESH_AUDITOR_ROLES.split(',').map((r) => r.trim()),
    store: compileStoreOption(options.store, service.env),
    a2aCard: {
      port: o.a2aCard?.port ?? e.AGENTMESH_A2A_CARD_PORT,
      host: o.a2aCard?.host ?? e.AGENTMESH_A2A_CARD_HOST,
      origin: o.a2aCard?.origin ?? e.AGENTMESH_A2A_CARD_ORIGIN,
    },
    mcpSecretPrefix: o.mcpSecretPrefix ?? e.AGENTMESH_MCP_SECRET_PREFIX,
  };
}
