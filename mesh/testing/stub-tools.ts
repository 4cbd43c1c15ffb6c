import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { kernelConfigSchema, loadConfig } from '../config/index.js';
import { Registration } from '../discovery/index.js';
import {
  compileMcpOptions,
  startMcpServer,
  toolCardOf,
  toolService,
  type McpOptions,
  type ToolSpec,
} from '../runtime/index.js';
import { FileSecretsProvider, spiffeIdOfService } from '../security/index.js';
import { compileServiceOptions, ServiceKit, type PolicyDocument } from '../service/index.js';
import { loadStateConfig, openStore } from '../state/index.js';
import { createLogger } from '../telemetry/index.js';

// The registry's refusal, if any, is in the last lines of the service's log.
const logTail = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n').slice(-5).join('\n');

/** One call a stub tool received, recorded before its handler ran. */
export interface ToolCall {
  tool: string;
  arguments: Record<string, unknown>;
  idempotencyKey: string;
  /** The calling task and step, as the caller sent them. */
  taskId: string;
  stepId: string;
  /** The token's subject: the person or workload the call was made for. */
  subject: string | undefined;
  /** The agents acting for the subject, nearest first (token exchange). */
  actors: string[];
}

/** A tool service of stubs running in the test process, registered in the test mesh. */
export interface StubToolService {
  name: string;
  address: string;
  /** host:port of its admin HTTP server (/metrics, /readyz). */
  admin: string;
  /** Its MCP endpoint (`<origin>/mcp`) when started with the `mcp` option. */
  mcpUrl?: string;
  /** Every call, in order of arrival. */
  calls: ToolCall[];
  /** The calls of one tool. */
  callsOf(tool: string): ToolCall[];
  /** Resolves once `tool` has been called `count` times (its handler is running or done), with those calls. */
  waitForCalls(tool: string, count?: number): Promise<ToolCall[]>;
  stop(): Promise<void>;
}

/** Where a stub tool service reads its configuration: the environment a service process of the mesh would get. */
export interface StubToolsSetup {
  name: string;
  tools: ToolSpec[];
  env: Record<string, string>;
  logFile: string;
  dataDir: string;
  /** Where its policy is written: every workload of the mesh may invoke the tools (scope tools.invoke). */
  policyFile: string;
  /** Another policy to write there instead (its service must be `name`). */
  policy?: PolicyDocument;
  /** Serve the tools over MCP too, as a tool service's `mcp` option would (docs/mcp.md). */
  mcp?: McpOptions | true;
}

/**
 * Serves `tools` as the ToolService `name` with the framework's own service
 * kit (mTLS identity, token and policy checks, schemas, idempotency, audit)
 * in this process, registers it, and resolves once the registry has it.
 */
export async function startStubTools(setup: StubToolsSetup): Promise<StubToolService> {
  if (!setup.tools.length) throw new Error(`stubTools(${setup.name}): give at least one tool`);
  const calls: ToolCall[] = [];
  const waiters = new Set<() => void>();
  const callsOf = (tool: string) => calls.filter((c) => c.tool === tool);
  const recorded: ToolSpec[] = setup.tools.map((spec) => ({
    ...spec,
    handler: (args, ctx) => {
      const principal = ctx.call.principal;
      calls.push({
        tool: spec.name,
        arguments: args,
        idempotencyKey: ctx.idempotencyKey,
        taskId: ctx.taskId,
        stepId: ctx.stepId,
        subject: principal?.subject,
        actors: principal?.actors ?? [],
      });
      for (const wake of waiters) wake();
      return spec.handler(args, ctx);
    },
  }));
  const policy: PolicyDocument = setup.policy ?? {
    service: setup.name,
    rules: [
      {
        description: 'the test mesh: any of its workloads may list and invoke the stubs',
        methods: ['agentmesh.v1.ToolService/*'],
        callers: ['spiffe://{trust_domain}/ns/*/sa/*'],
        scopes: ['tools.invoke'],
      },
    ],
  };
  writeFileSync(setup.policyFile, JSON.stringify(policy));
  const env: Record<string, string> = { ...setup.env };
  const logStream = createWriteStream(setup.logFile, { flags: 'a', mode: 0o600 });
  // What is started so far, undone in reverse when a later step fails: nothing is left running.
  const undo: (() => unknown)[] = [() => new Promise((resolve) => logStream.end(resolve))];
  try {
    const log = createLogger({ service: setup.name, destination: logStream });
    const secrets = new FileSecretsProvider(env.AGENTMESH_SECRETS_FILE!);
    await secrets.start();
    undo.push(() => secrets.close());
    const options = compileServiceOptions(setup.name, { policy: setup.policyFile }, env);
    const kit = await ServiceKit.fromEnv(setup.name, loadConfig(kernelConfigSchema, env), log, secrets, options);
    // The kit's shutdown closes the secrets provider (and the store, once opened).
    undo.push(() => kit.shutdown());
    const store = await openStore({
      service: setup.name,
      config: loadStateConfig({ AGENTMESH_DATA_DIR: setup.dataDir }),
      log,
    });
    kit.onShutdown(() => store.close());
    const card = toolCardOf(
      { name: setup.name, version: '0.0.0-test', purpose: `stub tools of a test (${setup.name})`, owner: 'test' },
      setup.tools,
      spiffeIdOfService(kit.security.config.AGENTMESH_TRUST_DOMAIN, setup.name),
    );
    const server = kit
      .createServer()
      .add(
        ToolServiceService,
        toolService(card, recorded, { store, metrics: kit.metrics, audit: kit.audit, service: setup.name }),
      );
    const { address, adminAddress } = await kit.serve(server);
    const mcpSettings = setup.mcp && compileMcpOptions(setup.mcp, env);
    const mcp = mcpSettings ? await startMcpServer(kit, server, card, mcpSettings) : undefined;
    if (mcp) kit.onShutdown(() => mcp.close());
    const registry = kit.client(RegistryServiceService, {
      service: 'agentmesh/registry',
      address: env.AGENTMESH_REGISTRY_ADDRESS!,
      scopes: ['registry.register', 'registry.read'],
    });
    undo.push(() => registry.close());
    const registration = new Registration(
      registry,
      { kind: 'tool', card },
      { address, adminAddress, instanceId: `${hostname()}-${process.pid}-${setup.name}`, mcpUrl: mcp?.url ?? '' },
      30_000,
      log,
      kit.metrics,
    );
    registration.start();
    undo.push(() => registration.stop());
    await registered(registration, setup);
    return {
      name: setup.name,
      address,
      admin: adminAddress,
      mcpUrl: mcp?.url,
      calls,
      callsOf,
      waitForCalls: (tool, count = 1) =>
        new Promise((resolve) => {
          const check = () => {
            if (callsOf(tool).length < count) return;
            waiters.delete(check);
            resolve(callsOf(tool).slice(0, count));
          };
          waiters.add(check);
          check();
        }),
      async stop() {
        await registration.stop();
        registry.close();
        await kit.shutdown();
        await new Promise((resolve) => logStream.end(resolve));
      },
    };
  } catch (err) {
    for (const step of undo.reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
    throw err;
  }
}

/** Resolves once the stub service is registered; rejects with its log's tail after 30 s. */
async function registered(registration: Registration, setup: StubToolsSetup): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      registration.registered,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${setup.name} was not registered within 30 s:\n${logTail(setup.logFile)}`)),
          30_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
