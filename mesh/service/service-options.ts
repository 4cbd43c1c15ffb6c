import { z } from 'zod';
import { ConfigError, loadConfig } from '../config/index.js';
import type { Interceptor } from '../core/index.js';
import { loadPolicy, parsePolicy, securityConfigSchema, type ServicePolicy } from '../security/index.js';

/** A caller policy as written in code (a ServicePolicy, with each rule's description and scopes optional). */
export interface PolicyDocument {
  /** The service it protects, "namespace/name". */
  service: string;
  /** Allow rules; everything else is denied. Caller patterns may use {trust_domain}. */
  rules: { description?: string; methods: string[]; callers: string[]; scopes?: string[] }[];
}

/**
 * Configuration of a service process given in code (runMeshService, runAgent,
 * runToolService). Each option overrides the environment variable named in its
 * comment; what is given neither way keeps the variable's default.
 */
export interface ServiceOptions {
  /**
   * The caller policy: a ServicePolicy object or the path of its JSON file
   * (AGENTMESH_POLICY_FILE). Without either, agents and tool services use their
   * built-in default; other services must name one.
   */
  policy?: PolicyDocument | string;
  /**
   * Server interceptors of every method, first = outermost. They run inside the
   * kit's chain — after observability and security, just before the handler — so
   * they see only authenticated, authorized calls whose ctx.principal is set.
   */
  interceptors?: Interceptor[];
  /** SPIFFE trust domain of the mesh (AGENTMESH_TRUST_DOMAIN). */
  trustDomain?: string;
  /** Interface the gRPC server binds to (AGENTMESH_HOST). */
  host?: string;
  /** gRPC port, 0 for any free one (AGENTMESH_PORT). */
  port?: number;
  /** host:port of the registry to register with and discover through (AGENTMESH_REGISTRY_ADDRESS). */
  registryAddress?: string;
}

/** ServiceOptions merged with the environment and validated: what the service kit runs on. */
export interface CompiledServiceOptions {
  /** The environment with the variables that code options override replaced. */
  readonly env: NodeJS.ProcessEnv;
  /** The resolved caller policy (trust domain substituted). */
  readonly policy: ServicePolicy;
  /** Where the policy came from, for the startup log: "option policy", a variable, or "built-in default". */
  readonly policySource: string;
  /** The extra server interceptors, in order. */
  readonly interceptors: readonly Interceptor[];
}

const optionsSchema = z.object({
  policy: z
    .union([z.string().min(1), z.looseObject({})], { error: 'must be a ServicePolicy object or a file path' })
    .optional(),
  interceptors: z
    .array(z.custom<Interceptor>((v) => typeof v === 'function', 'must be an interceptor function'))
    .optional(),
  trustDomain: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'must be a DNS-like name')
    .optional(),
  host: z.string().min(1).optional(),
  port: z.number().int('must be an integer').min(0).max(65535, 'must be between 0 and 65535').optional(),
  registryAddress: z
    .string()
    .regex(/^\S+:\d+$/, 'must be host:port')
    .optional(),
});

/** Parses code options with a zod schema; the first problem throws a ConfigError naming the option. */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown): z.infer<S> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new ConfigError(`option ${issue.path.join('.') || '(options)'}`, issue.message);
}

/**
 * Resolves the policy: AGENTMESH_POLICY_FILE when the platform sets it (a deployment's policy
 * outranks the one compiled into the image), else the code option, else the fallback.
 */
function resolvePolicy(
  name: string,
  option: unknown,
  env: NodeJS.ProcessEnv,
  fallback: ((service: string) => unknown) | undefined,
): { policy: ServicePolicy; source: string } {
  const { AGENTMESH_TRUST_DOMAIN: trustDomain } = loadConfig(
    securityConfigSchema.pick({ AGENTMESH_TRUST_DOMAIN: true }),
    env,
  );
  const file = env.AGENTMESH_POLICY_FILE;
  // An empty value is a deployment mistake (an unset Helm value), not a request for the default.
  if (file === '') throw new ConfigError('AGENTMESH_POLICY_FILE', 'is empty: name a policy file or unset it');
  let source: string;
  let read: () => unknown;
  if (file !== undefined) {
    source = option === undefined ? 'AGENTMESH_POLICY_FILE' : 'AGENTMESH_POLICY_FILE (overrides the policy option)';
    read = () => loadPolicy(file, trustDomain);
  } else if (option !== undefined) {
    source = 'option policy';
    read = () => (typeof option === 'string' ? loadPolicy(option, trustDomain) : option);
  } else if (fallback) {
    source = 'built-in default';
    read = () => fallback(name);
  } else {
    throw new ConfigError('AGENTMESH_POLICY_FILE', 'is required (or pass the policy option)');
  }
  let policy: ServicePolicy;
  try {
    policy = parsePolicy(structuredClone(read()), trustDomain);
  } catch (err) {
    throw new ConfigError(source, (err as Error).message);
  }
  if (policy.service !== name) throw new ConfigError(source, `protects ${policy.service}, not ${name}`);
  return { policy, source };
}

/**
 * Compiles a service's code options once, at startup: validates them (a
 * ConfigError names the bad option), lets them override their environment
 * variables, and resolves the caller policy (AGENTMESH_POLICY_FILE when set, then
 * the code option, then `defaultPolicy` when the kind of service has one).
 */
export function compileServiceOptions(
  name: string,
  options: ServiceOptions = {},
  env: NodeJS.ProcessEnv = process.env,
  defaultPolicy?: (service: string) => unknown,
): CompiledServiceOptions {
  const o = parseOptions(optionsSchema, options);
  const overrides: Record<string, string | undefined> = {
    AGENTMESH_TRUST_DOMAIN: o.trustDomain,
    AGENTMESH_HOST: o.host,
    AGENTMESH_PORT: o.port === undefined ? undefined : String(o.port),
    AGENTMESH_REGISTRY_ADDRESS: o.registryAddress,
  };
  const merged = { ...env };
  for (const [variable, value] of Object.entries(overrides)) if (value !== undefined) merged[variable] = value;
  const { policy, source } = resolvePolicy(name, options.policy, merged, defaultPolicy);
  return { env: merged, policy, policySource: source, interceptors: o.interceptors ?? [] };
}
