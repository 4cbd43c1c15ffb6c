// Real service processes in istio transport mode behind a sidecar stand-in
// (test/helpers/sidecar-proxy.ts: mTLS termination, Envoy's
// x-forwarded-client-cert, plaintext from 127.0.0.6), side by side with the
// same services in mtls mode: the same callers get the same answers, and
// the same identities reach handlers and the audit trail. A caller that
// goes around the sidecar cannot claim an identity.
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentCard } from '../gen/agentmesh/v1/card.js';
import { ChangeType, RegistryServiceService, type WatchResponse } from '../gen/agentmesh/v1/registry_service.js';
import { ToolServiceService } from '../gen/agentmesh/v1/tool_service.js';
import { createClient } from '../mesh/index.js';
import { issueWorkloadCert, loadCa } from '../mesh/security/dev-ca.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { Transport } from '../mesh/security/transport.js';
import { parseXfcc } from '../mesh/security/xfcc.js';
import { Code, codeName } from '../mesh/core/errors.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startProcess, waitForLog, type ServiceProcess } from './helpers/processes.js';
import { startSidecarProxy, type SidecarProxy, type XfccForwarding } from './helpers/sidecar-proxy.js';

const TD = 'agentmesh.local';
const idOf = (service: string) => spiffeIdOfService(TD, service);
const client = (id: string, scopes: string[], audiences: string[]) => ({
  client_id: id,
  auth: { method: 'client_secret_basic', secret_path: `agentmesh/clients/${id}` },
  scopes,
  audiences,
});
const CLIENTS = [
  client('banking/loan-math', [], []),
  client('agentmesh/registry', [], []),
  client('lending/credit-risk', ['tools.invoke', 'task.read'], ['banking/loan-math']),
  client('lending/compliance', ['tools.invoke'], ['banking/loan-math']),
  client('demo/agent', ['registry.register', 'registry.read'], ['agentmesh/registry']),
  client('demo/reader', ['registry.register', 'registry.read'], ['agentmesh/registry']),
];
const SERVICES = {
  'banking/loan-math': 'services/tools/loan-math/main.ts',
  'agentmesh/registry': 'services/registry/main.ts',
} as const;
type ServiceName = keyof typeof SERVICES;
type Mode = 'mtls' | 'istio';

/** One way of calling: whose certificate (or none), whose token with which scopes (or none), extra metadata. */
interface Caller {
  id: string;
  scopes?: string[];
  token?: false;
  cert?: 'own' | 'foreign-trust-domain' | 'none';
  xfcc?: string;
}

describe('istio transport mode behind a sidecar, side by side with mtls mode', () => {
  let files: LocalMeshFiles;
  let issuer: string;
  const procs: ServiceProcess[] = [];
  const proxies: SidecarProxy[] = [];
  /** Where callers reach each service in each mode: the mtls process itself, or the sidecar in front of the istio one. */
  const reach = {} as Record<
    ServiceName,
    Record<Mode, string> & { direct: string; dataDir: Record<Mode, string>; cert: string; key: string }
  >;
  const transports: Transport[] = [];

  async function certFiles(name: string, spiffeId: string) {
    const ca = await loadCa(
      readFileSync(join(files.certs, 'ca.crt'), 'utf8'),
      readFileSync(join(files.certs, 'ca.key'), 'utf8'),
    );
    const pair = await issueWorkloadCert(ca, { spiffeId, commonName: name, hours: 1 });
    const base = join(files.dir, name.replace(/\W/g, '-'));
    writeFileSync(`${base}.crt`, pair.cert);
    writeFileSync(`${base}.key`, pair.key, { mode: 0o600 });
    return { certFile: `${base}.crt`, keyFile: `${base}.key`, caFile: join(files.certs, 'ca.crt') };
  }

  beforeAll(async () => {
    files = await createLocalMeshFiles(CLIENTS);
    for (const c of CLIENTS)
      files.secrets[`agentmesh/clients/${c.client_id}`] = { client_secret: `${c.client_id}-secret-0123456789` };
    files.writeSecrets();
    const auth = startProcess(
      'services/auth/main.ts',
      files.serviceEnv('agentmesh/auth', { AGENTMESH_AUTH_CLIENTS_FILE: files.clientsFile }),
    );
    procs.push(auth);
    issuer = String((await waitForLog(auth, 'authorization server listening')).issuer);
    await Promise.all(
      (Object.keys(SERVICES) as ServiceName[]).map(async (name) => {
        const env = files.serviceEnv(name, { AGENTMESH_OAUTH_ISSUER: issuer });
        const dataDir = {
          mtls: join(files.dir, `${name.replace('/', '-')}-mtls`),
          istio: join(files.dir, `${name.replace('/', '-')}-istio`),
        };
        // Both bind 127.0.0.1; the istio one trusts its default proxies, which the test's sidecar connects from.
        const mtls = startProcess(SERVICES[name], { ...env, AGENTMESH_DATA_DIR: dataDir.mtls });
        const istio = startProcess(SERVICES[name], {
          ...env,
          AGENTMESH_TRANSPORT: 'istio',
          AGENTMESH_DATA_DIR: dataDir.istio,
        });
        procs.push(mtls, istio);
        const [m, i] = await Promise.all([
          waitForLog(mtls, 'service started', 60_000),
          waitForLog(istio, 'service started', 60_000),
        ]);
        const cert = readFileSync(env.AGENTMESH_TLS_CERT!, 'utf8');
        const key = readFileSync(env.AGENTMESH_TLS_KEY!, 'utf8');
        const proxy = await startSidecarProxy({
          upstream: String(i.address),
          cert,
          key,
          ca: readFileSync(env.AGENTMESH_TLS_CA!, 'utf8'),
        });
        proxies.push(proxy);
        reach[name] = { mtls: String(m.address), istio: proxy.address, direct: String(i.address), dataDir, cert, key };
      }),
    );
  }, 120_000);

  afterAll(async () => {
    for (const t of transports) t.close();
    for (const p of proxies) await p.close();
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    files.cleanup();
  });

  async function channel(caller: Caller, service: ServiceName): Promise<ChannelCredentials> {
    if (caller.cert === 'none') return credentials.createSsl(readFileSync(join(files.certs, 'ca.crt')));
    const spiffeId =
      caller.cert === 'foreign-trust-domain' ? idOf(caller.id).replace(TD, 'elsewhere.example') : idOf(caller.id);
    const transport = new Transport({
      mode: 'mtls',
      trustDomain: TD,
      tls: await certFiles(`${caller.id}-${caller.cert ?? 'own'}`, spiffeId),
    });
    transports.push(transport);
    return transport.channelCredentials(idOf(service));
  }

  /** A client of `service` at `address` as `caller`, with plaintext for a caller going around the sidecar. */
  async function clientAs<S extends typeof ToolServiceService | typeof RegistryServiceService>(
    definition: S,
    service: ServiceName,
    address: string,
    caller: Caller,
    plaintext = false,
  ) {
    const tokens = new TokenClient({
      tokenUrl: `${issuer}/oauth2/token`,
      clientId: caller.id,
      auth: { method: 'client_secret_basic', secret: `${caller.id}-secret-0123456789` },
      ca: readFileSync(join(files.certs, 'ca.crt'), 'utf8'),
    });
    return createClient(definition, address, {
      credentials: plaintext ? credentials.createInsecure() : await channel(caller, service),
      defaultDeadlineMs: 5_000,
      metadataHooks: [
        async (md) => {
          if (caller.token !== false)
            md.set('authorization', `Bearer ${await tokens.getToken(service, caller.scopes ?? [])}`);
          if (caller.xfcc) md.set('x-forwarded-client-cert', caller.xfcc);
        },
      ],
    });
  }

  /** The answer to one call as the caller sees it: the code name, and the message (for refusals) or the result. */
  async function outcome(call: () => Promise<unknown>): Promise<{ code: string; detail: unknown }> {
    try {
      return { code: 'OK', detail: await call() };
    } catch (err) {
      const e = err as { code: Code; details?: string; message: string };
      // The connection-level refusal's wording is grpc-js's, not the service's.
      return {
        code: codeName(e.code),
        detail:
          e.code === Code.UNAVAILABLE
            ? '(handshake)'
            : (e.details ?? e.message).replace(/client certificate|x-forwarded-client-cert/, '<peer identity>'),
      };
    }
  }

  const invoke = (address: string, caller: Caller, plaintext = false) =>
    outcome(async () => {
      const tools = await clientAs(ToolServiceService, 'banking/loan-math', address, caller, plaintext);
      try {
        const answer = await tools.invokeTool({
          tool: 'convert',
          arguments: { amount: 100, from: 'GBP', to: 'EUR' },
          idempotencyKey: '',
          context: undefined,
        });
        return answer.result;
      } finally {
        tools.close();
      }
    });

  /** The audit trail of a service process, without what differs by nature (time, chain, trace, the network address of an unidentified peer). */
  function audit(service: ServiceName, mode: Mode) {
    return readFileSync(join(reach[service].dataDir[mode], 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const r = JSON.parse(line) as Record<string, string | undefined>;
        const peer = r.peer?.startsWith('spiffe://') ? r.peer : '<address>';
        return {
          kind: r.kind,
          method: r.method,
          resource: r.resource,
          subject: r.subject,
          peer,
          outcome: r.outcome,
          reason: r.reason?.replace(/client certificate|x-forwarded-client-cert/, '<peer identity>'),
        };
      });
  }

  const allowed: Caller = { id: 'lending/credit-risk', scopes: ['tools.invoke'] };
  const CASES: [string, Caller, string][] = [
    ['an identity and scope the policy admits', allowed, 'OK'],
    [
      'an identity the policy does not name',
      { id: 'lending/compliance', scopes: ['tools.invoke'] },
      'PERMISSION_DENIED',
    ],
    ['no access token', { ...allowed, token: false }, 'UNAUTHENTICATED'],
    ['a token without the scope', { ...allowed, scopes: ['task.read'] }, 'PERMISSION_DENIED'],
    ['a certificate of another trust domain', { ...allowed, cert: 'foreign-trust-domain' }, 'UNAUTHENTICATED'],
    ['no client certificate', { ...allowed, cert: 'none' }, 'UNAVAILABLE'],
    [
      'an x-forwarded-client-cert of its own, claiming an admitted identity',
      {
        id: 'lending/compliance',
        scopes: ['tools.invoke'],
        xfcc: `By=${idOf('banking/loan-math')};Hash=00;URI=${idOf('lending/credit-risk')}`,
      },
      'PERMISSION_DENIED',
    ],
  ];

  test('every caller gets the same answer from the tool service in both modes, and the one the policy says', async () => {
    for (const [what, caller, code] of CASES) {
      const mtls = await invoke(reach['banking/loan-math'].mtls, caller);
      const istio = await invoke(reach['banking/loan-math'].istio, caller);
      expect({ what, mtls: mtls.code, istio: istio.code }).toEqual({ what, mtls: code, istio: code });
      expect({ what, istio: istio.detail }).toEqual({ what, istio: mtls.detail });
      if (code === 'OK') expect(istio.detail).toMatchObject({ amount: 117.65, currency: 'EUR' });
    }
  });

  test('the audit trails of both modes record the same callers, identities and outcomes', () => {
    const mtls = audit('banking/loan-math', 'mtls');
    expect(audit('banking/loan-math', 'istio')).toEqual(mtls);
    expect(mtls.filter((r) => r.kind === 'call')).toContainEqual(
      expect.objectContaining({ peer: idOf('lending/credit-risk'), subject: 'lending/credit-risk', outcome: 'OK' }),
    );
    // The forged header changed nothing: the caller is who its certificate says.
    expect(mtls.filter((r) => r.kind === 'authz_denied' && r.peer === idOf('lending/compliance'))).toHaveLength(2);
  });

  test.each(['append-forward', 'sanitize-set'] as XfccForwarding[])(
    'with the sidecar forwarding as %s, the identity is the certificate’s, never the header a caller sent',
    async (forwarding) => {
      const r = reach['banking/loan-math'];
      const proxy = await startSidecarProxy({
        upstream: r.direct,
        cert: r.cert,
        key: r.key,
        ca: readFileSync(join(files.certs, 'ca.crt'), 'utf8'),
        forwarding,
      });
      try {
        const forged = CASES.at(-1)![1];
        expect(await invoke(proxy.address, forged)).toMatchObject({
          code: 'PERMISSION_DENIED',
          detail: expect.stringContaining(idOf('lending/compliance')),
        });
        const sent = proxy.forwarded.at(-1)!;
        expect(parseXfcc(sent)).toHaveLength(forwarding === 'append-forward' ? 2 : 1);
        // Envoy's element for Istio: the sidecar's own URI, the certificate's SHA-256, its subject (RFC 2253), URI and DNS SANs.
        expect(sent).toMatch(
          new RegExp(
            `(^|,)By=${idOf('banking/loan-math')};Hash=[0-9a-f]{64};Subject="O=agentmesh,CN=lending/compliance-own";URI=${idOf('lending/compliance')};DNS=localhost$`,
          ),
        );
      } finally {
        await proxy.close();
      }
    },
  );

  test('a caller connecting to the service port directly, around the sidecar, cannot claim an identity with the header', async () => {
    const before = audit('banking/loan-math', 'istio').length;
    const forged = { ...allowed, xfcc: `By=${idOf('banking/loan-math')};Hash=00;URI=${idOf('lending/credit-risk')}` };
    expect(await invoke(reach['banking/loan-math'].direct, forged, true)).toEqual({
      code: 'UNAUTHENTICATED',
      detail: '<peer identity> from a peer that is not the local sidecar',
    });
    // Refused before any handler: the only record is the refusal, from the network address.
    expect(audit('banking/loan-math', 'istio').slice(before)).toEqual([
      expect.objectContaining({ kind: 'auth_failure', peer: '<address>', outcome: 'UNAUTHENTICATED' }),
    ]);
  });

  test('the registry streams Watch through the sidecar and checks card ownership by the forwarded identity, as in mtls mode', async () => {
    const card = AgentCard.fromPartial({
      name: 'demo/agent',
      version: '1.0.0',
      purpose: 'The demo agent',
      owner: 'team',
      identity: idOf('demo/agent'),
      skills: [{ id: 'default', name: 'Default', description: 'does its job', tags: [] }],
    });
    const register = (address: string, who: string) =>
      outcome(async () => {
        const registry = await clientAs(RegistryServiceService, 'agentmesh/registry', address, {
          id: who,
          scopes: ['registry.register'],
        });
        try {
          return (
            (
              await registry.registerAgent({
                card,
                endpoint: { address: '127.0.0.1:7000', adminAddress: '', instanceId: `${who}-1`, mcpUrl: '' },
                leaseTtl: undefined,
              })
            ).revision > 0
          );
        } finally {
          registry.close();
        }
      });
    const results: Record<Mode, unknown> = { mtls: undefined, istio: undefined };
    for (const mode of ['mtls', 'istio'] as Mode[]) {
      const address = reach['agentmesh/registry'][mode];
      const reader = await clientAs(RegistryServiceService, 'agentmesh/registry', address, {
        id: 'demo/reader',
        scopes: ['registry.read'],
      });
      const controller = new AbortController();
      const seen: WatchResponse[] = [];
      // The registry says when the stream is live (its first progress response; the next would come
      // only after 10 quiet minutes): the changes are made after that, however slow the machine is.
      let live!: () => void;
      const isLive = new Promise<void>((r) => (live = r));
      let over = false;
      const watching = (async () => {
        try {
          for await (const change of reader.watch(
            { fromRevision: 0, kinds: [], progressInterval: { seconds: 600, nanos: 0 } },
            { signal: controller.signal, deadlineMs: Infinity },
          ))
            if (change.change === ChangeType.CHANGE_TYPE_PROGRESS) live();
            else seen.push(change);
        } catch (err) {
          return codeName((err as { code: Code }).code);
        } finally {
          over = true;
          live();
        }
        return 'ended';
      })();
      await isLive;
      const owner = await register(address, 'demo/agent');
      const stranger = await register(address, 'demo/reader');
      // Streamed by the registry's process: polled until it arrives (jest's timeout is the bound).
      while (!seen.length && !over) await new Promise((r) => setTimeout(r, 25));
      const streamedWhileOpen = seen.map((c) => (c.entry?.card?.$case === 'agent' ? c.entry.card.agent.name : ''));
      controller.abort();
      results[mode] = { owner, stranger, streamedWhileOpen, watchEnd: await watching };
      reader.close();
    }
    expect(results.istio).toEqual(results.mtls);
    expect(results.mtls).toEqual({
      owner: { code: 'OK', detail: true },
      stranger: {
        code: 'PERMISSION_DENIED',
        detail: `only ${idOf('demo/agent')} may change demo/agent (caller is ${idOf('demo/reader')})`,
      },
      streamedWhileOpen: ['demo/agent'],
      watchEnd: 'CANCELLED',
    });
  });
});
