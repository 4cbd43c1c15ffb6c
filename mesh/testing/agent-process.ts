import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ChildService } from './child-service.js';
import type { MeshHome } from './mesh-home.js';
import type { ScriptedModel } from './scripted-model.js';

/** How to run an agent under test. */
export interface StartAgentOptions {
  /** The agent's name, "ns/name" (its card's name). Default: the `service` of the policy.json beside the entry. */
  name?: string;
  /** More environment for the agent (wins over the test mesh's). */
  env?: Record<string, string>;
  /** The model its planner and LLM steps talk to (OPENAI_BASE_URL / OPENAI_API_KEY). */
  model?: ScriptedModel;
  /**
   * Its authorization policy (the JSON of a policy file). Default: the
   * policy.json beside the entry, else one that lets every workload of the
   * test mesh (the test caller included) call every AgentService method.
   */
  policy?: { service?: string; rules: object[] };
  /** Load the telemetry preload, so spans go to `traceFile`. */
  tracing?: boolean;
  /**
   * Runs one of several replicas of the agent (same name, same store): each
   * replica is its own process with its own log file, started and stopped on its own.
   */
  replica?: string;
}

/** An agent process of a test mesh, ready (serving and registered). */
export interface RunningAgent {
  name: string;
  /** host:port of its gRPC server. */
  address: string;
  /** host:port of its admin HTTP server (/metrics, /livez, /readyz). */
  admin: string;
  process: ChildService;
  logFile: string;
  /** Where its spans go (JSON lines) when started with `tracing`. */
  traceFile: string;
  dataDir: string;
}

/** The name of the agent an entry runs: given, or the service its own policy.json protects. */
export function agentName(entry: string, options: StartAgentOptions): string {
  if (options.name) return options.name;
  const policyFile = join(dirname(resolve(entry)), 'policy.json');
  const service = existsSync(policyFile)
    ? (JSON.parse(readFileSync(policyFile, 'utf8')) as { service?: unknown }).service
    : undefined;
  if (typeof service !== 'string')
    throw new Error(`startAgent(${entry}): name the agent (options.name); no policy.json beside the entry names it`);
  return service;
}

/** The policy file the agent reads: the one given, its own, or one open to the test mesh. */
function policyFileFor(home: MeshHome, entry: string, name: string, options: StartAgentOptions): string {
  const own = join(dirname(resolve(entry)), 'policy.json');
  if (!options.policy && existsSync(own)) return own;
  const policy = options.policy ?? {
    rules: [
      {
        description: 'the test mesh: any of its workloads may call',
        methods: ['agentmesh.v1.AgentService/*'],
        callers: ['spiffe://{trust_domain}/ns/*/sa/*'],
        scopes: [],
      },
    ],
  };
  const file = home.policyFile(name);
  writeFileSync(file, JSON.stringify({ service: name, ...policy }, null, 2));
  return file;
}

/**
 * Starts the agent's entry file (.js, or .ts through tsx) with the mesh's
 * environment, and resolves once it has registered with the test mesh's
 * registry (it is SERVING from then on); rejects with its output when it
 * exits or logs no registration in time.
 */
export async function startAgentProcess(
  home: MeshHome,
  entry: string,
  name: string,
  env: Record<string, string>,
  options: StartAgentOptions,
): Promise<RunningAgent> {
  const logFile = home.logFile(options.replica ? `${name}-${options.replica}` : name);
  const traceFile = join(home.dir, 'traces', `${name.replace('/', '-')}.jsonl`);
  mkdirSync(dirname(traceFile), { recursive: true });
  if (options.model) await options.model.start();
  const child = new ChildService({
    name,
    entry: resolve(entry),
    env: {
      ...env,
      AGENTMESH_POLICY_FILE: policyFileFor(home, entry, name, options),
      AGENTMESH_TRACE_FILE: traceFile,
      ...(options.model ? options.model.env() : {}),
      ...options.env,
    },
    logFile,
    tracing: options.tracing,
  });
  try {
    const [started] = await Promise.all([child.waitForLog('service started'), child.waitForLog('registered')]);
    return {
      name,
      address: String(started.address),
      admin: String(started.admin),
      process: child,
      logFile,
      traceFile,
      dataDir: env.AGENTMESH_DATA_DIR!,
    };
  } catch (err) {
    await child.stop(1_000);
    throw err;
  }
}
