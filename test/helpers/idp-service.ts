// A secured gRPC service set up from the environment exactly as a user configures one
// (securityFromEnv + securityInterceptor, mTLS, a policy file), trusting a test identity
// provider; and a caller with its own workload certificate presenting the IdP's tokens.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import type { Principal } from '../../mesh/core/index.js';
import { createServer } from '../../mesh/index.js';
import { FileSecretsProvider } from '../../mesh/security/secrets/index.js';
import { securityFromEnv } from '../../mesh/security/security-config.js';
import { securityInterceptor } from '../../mesh/security/security-interceptor.js';
import { spiffeId } from '../../mesh/security/spiffe-id.js';
import { Transport } from '../../mesh/security/transport.js';
import type { LocalMeshFiles } from './local-auth.js';
import { captureLogger } from './log-capture.js';
import { secureClient } from './secure-mesh.js';

/** GetTask needs task.read, SendTask task.write; callers are workloads of namespace test. */
export const POLICY = (service: string) => ({
  service,
  rules: [
    {
      description: 'read tasks',
      methods: ['agentmesh.v1.AgentService/GetTask'],
      callers: ['spiffe://{trust_domain}/ns/test/sa/*'],
      scopes: ['task.read'],
    },
    {
      description: 'send tasks',
      methods: ['agentmesh.v1.AgentService/SendTask'],
      callers: ['spiffe://{trust_domain}/ns/test/sa/*'],
      scopes: ['task.write'],
    },
  ],
});

/** Certificates and environment issued once per file (the certs CLI is slow on a busy machine). */
export class MeshEnv {
  private readonly envs = new Map<string, Record<string, string>>();
  constructor(readonly files: LocalMeshFiles) {}

  get caFile(): string {
    return join(this.files.certs, 'ca.crt');
  }

  /** The environment of `service` with `extra` settings; its policy file and client secret are written. */
  envOf(service: string, extra: Record<string, string>): Record<string, string> {
    let base = this.envs.get(service);
    if (!base) {
      const policyFile = join(this.files.dir, `${service.replace('/', '-')}.policy.json`);
      writeFileSync(policyFile, JSON.stringify(POLICY(service)));
      base = this.files.serviceEnv(service, { AGENTMESH_POLICY_FILE: policyFile });
      this.envs.set(service, base);
    }
    return { ...base, AGENTMESH_OAUTH_CA: this.caFile, ...extra };
  }
}

/** A running secured service: what its handlers saw, its log, and a caller. */
export interface SecuredService {
  seen: Principal[];
  logs: ReturnType<typeof captureLogger>;
  /** GetTask as workload test/caller presenting `token`; resolves with the principal the handler saw. */
  getTask(token: string): Promise<Principal>;
  /** SendTask (needs task.write) as test/caller. */
  sendTask(token: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts `service` configured by `env` (its secret must be in the secrets file) on 127.0.0.1:0. */
export async function startSecuredService(mesh: MeshEnv, env: Record<string, string>): Promise<SecuredService> {
  const service = env.AGENTMESH_SERVICE!;
  const secrets = new FileSecretsProvider(mesh.files.secretsFile);
  await secrets.start();
  const logs = captureLogger(service);
  const setup = await securityFromEnv(secrets, logs.log, env);
  const seen: Principal[] = [];
  const server = createServer({ logger: logs.log })
    .use(securityInterceptor({ ...setup, log: logs.log }))
    .add(AgentServiceService, {
      async getTask({ taskId }, ctx) {
        seen.push(ctx.principal!);
        return { id: taskId, contextId: '', history: [], artifacts: [], metadata: {} } as never;
      },
      async sendTask() {
        return {} as never;
      },
    });
  const port = await server.listen('127.0.0.1:0', setup.transport.serverCredentials());
  const callerEnv = mesh.envOf('test/caller', {});
  const caller = new Transport({
    mode: 'mtls',
    trustDomain: 'agentmesh.local',
    tls: { certFile: callerEnv.AGENTMESH_TLS_CERT!, keyFile: callerEnv.AGENTMESH_TLS_KEY!, caFile: mesh.caFile },
  });
  const [ns, name] = service.split('/') as [string, string];
  const clientFor = (token: string) =>
    secureClient(caller, `127.0.0.1:${port}`, spiffeId('agentmesh.local', ns, name), async () => token);
  return {
    seen,
    logs,
    async getTask(token) {
      const before = seen.length;
      await clientFor(token).getTask({ taskId: 't1', historyLength: 0 });
      return seen[before]!;
    },
    sendTask: (token) => clientFor(token).sendTask({} as never),
    async close() {
      await server.shutdown({ graceMs: 1_000 });
      caller.close();
      setup.close();
      await secrets.close();
    },
  };
}
