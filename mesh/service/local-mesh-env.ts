import { resolve } from 'node:path';
import { ConfigError } from '../config/index.js';

/**
 * Why this process must not join a local mesh even though AGENTMESH_HOME is set: it runs on a
 * platform (Kubernetes, Istio, production) or was configured already. Undefined: it may join.
 */
export function reasonNotToJoin(env: NodeJS.ProcessEnv): string | undefined {
  if (env.AGENTMESH_TRANSPORT !== undefined && env.AGENTMESH_TRANSPORT !== 'mtls')
    return `AGENTMESH_TRANSPORT is ${env.AGENTMESH_TRANSPORT}`;
  if (env.KUBERNETES_SERVICE_HOST !== undefined) return 'KUBERNETES_SERVICE_HOST is set (running in Kubernetes)';
  if (env.NODE_ENV === 'production') return 'NODE_ENV is production';
  if (env.AGENTMESH_TLS_CERT !== undefined) return 'AGENTMESH_TLS_CERT is set (configured already)';
  return undefined;
}

const PATHS = new Set(['AGENTMESH_POLICY_FILE', 'AGENTMESH_TLS_CA', 'AGENTMESH_SECRETS_FILE', 'AGENTMESH_DATA_DIR']);

/**
 * Refuses, with one line naming the variable, to join when a variable the join sets is set
 * already to something else: the join completes the environment and never overrides it.
 */
export function checkNoConflicts(env: NodeJS.ProcessEnv, wanted: Record<string, string>): void {
  for (const [name, value] of Object.entries(wanted)) {
    const current = env[name];
    if (current === undefined || current === value) continue;
    if (PATHS.has(name) && resolve(current) === resolve(value)) continue;
    throw new ConfigError(
      name,
      `is set to ${current}, but joining the local mesh in AGENTMESH_HOME needs ${value}: unset one of them`,
    );
  }
}

/** Sets the variables the join needs that are not set yet (checkNoConflicts ran before). */
export function completeEnv(env: NodeJS.ProcessEnv, wanted: Record<string, string>): void {
  for (const [name, value] of Object.entries(wanted)) env[name] ??= value;
}
