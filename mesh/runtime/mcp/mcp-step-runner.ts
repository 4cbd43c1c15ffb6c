import { createHash } from 'node:crypto';
import { isSpanContextValid, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { McpAuthMode, type ToolCard } from '../../../gen/agentmesh/v1/card.js';
import { Code, MeshError } from '../../core/index.js';
import { meshTracer } from '../../telemetry/index.js';
import { locateCollaborator, type Choice, type CollaboratorRoutes } from '../collaborators.js';
import { outcomeUnknown, type StepCall, type StepResult } from '../executor.js';
import type { McpCredentials } from './mcp-credentials.js';
import { notAMeshWorkload, tlsFetch, type TlsFetch } from './tls-fetch.js';
import { outputOf, serverText, textOf, type McpToolResult } from './mcp-text.js';

/** A tool service outside agentmesh: an MCP server registered with RegisterExternalTool, and why it was chosen. */
export interface ExternalToolServer {
  /** Its registry name, "namespace/name". */
  name: string;
  /** Its registry card: card.mcp says where and how it is called, card.tools which tools are idempotent. */
  card: ToolCard;
  choice: Choice;
}

/** The idempotency key's place in a request's `_meta` (agentmesh MCP servers honour it; others ignore it). */
export const IDEMPOTENCY_META_KEY = 'io.agentmesh/idempotency-key';

/**
 * The idempotency key as sent to a server outside the mesh: a SHA-256 of the attempt's key
 * (task id, step id, attempt), so the partner learns no task ids; the same for a re-sent
 * attempt, so a server that honours it (agentmesh's) still recognises the repeat.
 */
export function externalIdempotencyKey(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('base64url')}`;
}

/** How long the end of a stateful server's session is waited for. */
const SESSION_END_WAIT_MS = 2_000;

/** The longest answer read from an external MCP server. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

const AUTH_MODES: Record<number, string> = {
  [McpAuthMode.MCP_AUTH_MODE_CLIENT_CREDENTIALS]: 'client credentials',
  [McpAuthMode.MCP_AUTH_MODE_TOKEN_EXCHANGE]: 'token exchange',
  [McpAuthMode.MCP_AUTH_MODE_STATIC_SECRET]: 'static secret',
};

/**
 * Locates the tool service named `name` once: the external MCP server the registry describes under
 * it, else the choice to connect to it with (nothing for a static route or without a registry).
 */
export async function findExternalTool(
  routes: CollaboratorRoutes,
  name: string,
): Promise<{ external?: ExternalToolServer; choice?: Choice }> {
  if (routes.static.has(name) || !routes.discovery()) return {};
  const { choice, toolCard } = await locateCollaborator(routes, name);
  if (!toolCard?.mcp?.external) return { choice };
  const mode = AUTH_MODES[toolCard.mcp.auth?.mode ?? 0] ?? 'no authentication mode';
  // The explanation's collaborator record says what was called: the MCP endpoint, not a mesh instance.
  const external: Choice = {
    ...choice,
    address: toolCard.mcp.url,
    reasons: [...choice.reasons, `external MCP server at ${toolCard.mcp.url} (${mode})`],
  };
  return { external: { name, card: toolCard, choice: external }, choice };
}

let sdk: Promise<typeof import('@modelcontextprotocol/client') & typeof import('./mcp-results.js')> | undefined;
/**
 * The SDK client and the result mapping that reads its error classes, loaded once, on the first
 * external call: most agents never make one, and the SDK costs a process several MB (npm run bench
 * -- startup). One import at a time (jest's module loader fails on concurrent imports of one graph).
 */
function mcpClient(): NonNullable<typeof sdk> {
  sdk ??= (async () => ({
    ...(await import('@modelcontextprotocol/client')),
    ...(await import('./mcp-results.js')),
  }))();
  return sdk;
}

/** W3C trace context of a span, for `params._meta` (none when tracing is off). */
function traceMeta(span: ReturnType<typeof trace.getActiveSpan>): Record<string, string> {
  const ctx = span?.spanContext();
  if (!ctx || !isSpanContextValid(ctx)) return {};
  const traceparent = `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  const tracestate = ctx.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** What an McpStepRunner needs of the agent it runs in. */
export interface McpStepRunnerOptions {
  credentials: McpCredentials;
  /** The mesh's trust domain: a server presenting a SPIFFE ID of it is not an external server. */
  trustDomain: string;
  /** The agent, as the MCP client names itself. */
  clientInfo: { name: string; version: string };
}

/**
 * Runs tool steps on external MCP servers with the official SDK's client
 * over Streamable HTTP: TLS checked against the entry's CA bundle (else the
 * system roots, never the mesh CA; no mesh workload certificate accepted),
 * the credential of the entry's auth mode (never the caller's own token),
 * the step's deadline as the request timeout and its signal, the trace
 * context and idempotency key in `_meta`. A tool's isError result fails the
 * step with its text (FAILED_PRECONDITION: a refusal, not retried, not a
 * sign of an unhealthy server). Retries and the circuit breaker are the
 * executor's; a failure after a tool not marked idempotent was called is
 * not retried (mcp-results.ts).
 */
export class McpStepRunner {
  /** One fetch (its own kept-alive connections) per CA bundle entries name. */
  private readonly fetches = new Map<string, TlsFetch>();

  constructor(private readonly options: McpStepRunnerOptions) {}

  /** Closes the kept-alive connections to external servers (at shutdown). */
  close(): void {
    for (const f of this.fetches.values()) f.close();
    this.fetches.clear();
  }

  private fetchFor(caPem: string): TlsFetch {
    let f = this.fetches.get(caPem);
    if (!f) {
      f = tlsFetch({ caPem, checkServer: notAMeshWorkload(this.options.trustDomain), maxBodyBytes: MAX_ANSWER_BYTES });
      this.fetches.set(caPem, f);
    }
    return f;
  }

  async run(call: StepCall, server: ExternalToolServer, authority: () => string | undefined): Promise<StepResult> {
    const target = call.step.target;
    if (target?.$case !== 'tool') throw new MeshError(Code.INTERNAL, `step ${call.step.id} is not a tool step`);
    const toolName = target.tool.tool;
    const label = `${server.name}#${toolName}`;
    const mcp = server.card.mcp!;
    const definition = server.card.tools.find((t) => t.name === toolName);
    if (!definition)
      throw new MeshError(Code.NOT_FOUND, `external MCP server ${server.name} has no registered tool ${toolName}`);
    // An attempt cut off by a restart after its request went out: the server may have acted, and
    // an external server is not known to recognise the re-sent key. A tool not marked idempotent
    // is not called again.
    if (!definition.idempotent && call.resumes?.requestSent)
      throw outcomeUnknown(
        `external MCP tool ${label}: outcome unknown: the agent stopped after the call was sent; not sent again, the tool is not marked idempotent`,
      );
    // Before anything is sent: a credential that cannot be had leaves the server uncalled.
    const { credentials } = this.options;
    // The step's deadline bounds the wait for a credential too (a token endpoint that does not answer).
    const until = AbortSignal.any([call.signal, AbortSignal.timeout(Math.max(1, call.deadline - Date.now()))]);
    let bearer = await credentials.bearer(server.name, mcp, authority, until);
    const facts = { tool: label, sent: false, idempotent: definition.idempotent, secrets: [bearer] };
    const timeout = () => Math.max(1, call.deadline - Date.now());
    const { Client, StreamableHTTPClientTransport, meshErrorOfCall } = await mcpClient();
    return meshTracer().startActiveSpan(`mcp ${label}`, { kind: SpanKind.CLIENT }, async (span) => {
      const transport = new StreamableHTTPClientTransport(new URL(mcp.url), {
        fetch: this.fetchFor(mcp.caPem).fetch,
        authProvider: {
          token: () => Promise.resolve(bearer),
          // A 401 (a cached partner token revoked or expired early): the SDK re-sends once with a fresh one.
          // Safe for any tool: a request refused with 401 did not act.
          onUnauthorized: async () => {
            credentials.forget(mcp);
            bearer = await credentials.bearer(server.name, mcp, authority, until);
            facts.secrets.push(bearer);
          },
        },
        // 403 insufficient_scope: a refusal (PERMISSION_DENIED, mcp-results.ts), not a step-up
        // re-authorization (our credentials come from the entry, not from the server's challenge).
        onInsufficientScope: 'throw',
        // A redirect could carry the credential elsewhere: none is followed.
        requestInit: { redirect: 'error' },
      });
      const client = new Client(this.options.clientInfo, { capabilities: {} });
      try {
        await client.connect(transport, { signal: call.signal, timeout: timeout() });
        // Persisted before tools/call goes out: after a crash the resumed attempt knows it may have acted.
        if (!definition.idempotent) await call.sending?.();
        facts.sent = true;
        const result = (await client.callTool(
          {
            name: toolName,
            arguments: call.args,
            _meta: { ...traceMeta(span), [IDEMPOTENCY_META_KEY]: externalIdempotencyKey(call.idempotencyKey) },
          },
          { signal: call.signal, timeout: timeout() },
        )) as McpToolResult;
        if (result.isError) {
          const why = serverText(textOf(result), facts.secrets) || 'no reason given';
          throw new MeshError(Code.FAILED_PRECONDITION, `external MCP tool ${label} refused: ${why}`);
        }
        return { output: outputOf(result), choice: server.choice };
      } catch (err) {
        const error = meshErrorOfCall(err, facts);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        throw error;
      } finally {
        span.end();
        // A stateful server keeps a session per client until told: ended here (DELETE), whatever
        // the step's outcome, which a failure to end it does not change.
        // Bounded: a server that does not answer the DELETE does not hold the step up.
        if (transport.sessionId)
          await Promise.race([
            transport.terminateSession().catch(() => undefined),
            new Promise((resolve) => setTimeout(resolve, SESSION_END_WAIT_MS).unref()),
          ]);
        await client.close().catch(() => undefined);
      }
    });
  }
}
