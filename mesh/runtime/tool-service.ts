import { createHash } from 'node:crypto';
import { SpanStatusCode } from '@opentelemetry/api';
import { ToolCard, type ToolDefinition } from '../../gen/agentmesh/v1/card.js';
import type { ToolServiceService } from '../../gen/agentmesh/v1/tool_service.js';
import { Code, codeName, MeshError } from '../core/index.js';
import type { CallContext } from '../core/index.js';
import type { ServiceImplementation } from '../core/index.js';
import type { Store } from '../state/index.js';
import type { AuditLog } from '../telemetry/index.js';
import type { MeshMetrics } from '../telemetry/index.js';
import { meshTracer } from '../telemetry/index.js';
import { canonicalJson } from './canonical-json.js';
import { compileSchema, type SchemaCheck } from './schema-validator.js';

/** What a tool handler receives besides its (validated) arguments. */
export interface ToolContext {
  call: CallContext;
  /** The invocation's idempotency key ("" for idempotent tools called without one). */
  idempotencyKey: string;
  /** The calling task, step and attempt, when given. */
  taskId: string;
  stepId: string;
  attempt: number;
}

/** One tool: schemas, description and the handler. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments object, checked before the handler runs. */
  argumentsSchema: Record<string, unknown>;
  /** JSON Schema of the result, checked after. */
  resultSchema?: Record<string, unknown>;
  tags?: string[];
  /** True when repeating a call has no further effect; otherwise an idempotency key is required. */
  idempotent?: boolean;
  examples?: { title: string; text?: string; input?: Record<string, unknown> }[];
  handler(args: Record<string, unknown>, ctx: ToolContext): Promise<unknown>;
}

/** The card fields of a tool service besides its tools (identity, endpoints and lifecycle are filled in at run time). */
export interface ToolServiceInfo {
  name: string;
  version: string;
  purpose: string;
  description?: string;
  owner: string;
  policies?: { id: string; description?: string; authority?: string }[];
  labels?: Record<string, string>;
}

/** Where a tool service keeps results and reports what it did. */
export interface ToolServiceDeps {
  store: Store;
  metrics?: MeshMetrics;
  audit?: AuditLog;
  service: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The fingerprint of a call is a digest of its canonical JSON, so arguments read back from a
 * jsonb plan (keys in another order) are recognised as the same. Rows stored before it was
 * canonical hold a digest of the arguments as written; those are accepted too, or a step in
 * flight across the upgrade would be refused when it is re-sent. Accepting both is safe: the
 * text as written equals the canonical text of a value only when both are the same arguments.
 */
function fingerprintsOf(tool: string, args: Record<string, unknown>) {
  let canonical: string;
  try {
    canonical = `[${JSON.stringify(tool)},${canonicalJson(args, 'arguments')}]`;
  } catch (err) {
    throw new MeshError(Code.INVALID_ARGUMENT, (err as Error).message);
  }
  return { fingerprint: sha256(canonical), legacyFingerprint: sha256(JSON.stringify([tool, args])) };
}

const definitionOf = (t: ToolSpec): ToolDefinition => ({
  name: t.name,
  description: t.description,
  argumentsSchema: t.argumentsSchema,
  resultSchema: t.resultSchema,
  tags: t.tags ?? [],
  idempotent: t.idempotent ?? false,
  examples: (t.examples ?? []).map((e) => ({ title: e.title, text: e.text ?? '', input: e.input })),
});

/** The card of a tool service, as registered and as ListTools answers. */
export function toolCardOf(info: ToolServiceInfo, tools: ToolSpec[], identity: string): ToolCard {
  return ToolCard.fromPartial({
    ...info,
    description: info.description ?? '',
    policies: (info.policies ?? []).map((p) => ({
      id: p.id,
      description: p.description ?? '',
      authority: p.authority ?? '',
    })),
    tools: tools.map(definitionOf),
    identity,
  });
}

/**
 * ToolService for a list of tools: arguments validated against each tool's
 * schema before its handler runs (INVALID_ARGUMENT naming the path), results
 * after; a repeated idempotency key returns the stored result instead of
 * acting twice (concurrent duplicates wait for the first); every invocation
 * is counted, traced and audited.
 */
export function toolService(
  card: ToolCard,
  tools: ToolSpec[],
  deps: ToolServiceDeps,
): ServiceImplementation<typeof ToolServiceService> {
  const byName = new Map<string, { spec: ToolSpec; args: SchemaCheck; result: SchemaCheck }>();
  for (const spec of tools) {
    if (byName.has(spec.name)) throw new Error(`tool ${spec.name} is defined twice`);
    byName.set(spec.name, {
      spec,
      args: compileSchema(spec.argumentsSchema),
      result: compileSchema(spec.resultSchema),
    });
  }
  return {
    async listTools() {
      return { card };
    },
    async invokeTool(req, call) {
      const tool = byName.get(req.tool);
      if (!tool) throw new MeshError(Code.NOT_FOUND, `tool ${req.tool || '(empty)'} does not exist in ${card.name}`);
      const args = req.arguments ?? {};
      tool.args.assert(args, 'arguments');
      if (!tool.spec.idempotent && !req.idempotencyKey) {
        throw new MeshError(
          Code.INVALID_ARGUMENT,
          `idempotency_key: required for ${req.tool}, which is not idempotent`,
        );
      }
      const ctx: ToolContext = {
        call,
        idempotencyKey: req.idempotencyKey,
        taskId: req.context?.taskId ?? '',
        stepId: req.context?.stepId ?? '',
        attempt: req.context?.attempt ?? 0,
      };
      return meshTracer().startActiveSpan(`tool ${req.tool}`, async (span) => {
        span.setAttributes({
          'agentmesh.tool': req.tool,
          'agentmesh.task_id': ctx.taskId,
          'agentmesh.step_id': ctx.stepId,
        });
        let outcome = 'OK';
        try {
          const run = async () => {
            const result = await tool.spec.handler(args, ctx);
            // A result that breaks the tool's own contract is the tool's fault, not the caller's.
            tool.result.assert(result, 'result', Code.INTERNAL);
            return result;
          };
          if (!req.idempotencyKey) return { result: await run(), replayed: false, completedAt: new Date() };
          // The same key with different arguments is a caller bug, caught by the fingerprint.
          const principal = call.principal?.subject ?? 'unknown';
          const { result, replayed } = await deps.store.toolResults.run(
            `${card.name}:${req.idempotencyKey}`,
            { principal, ...fingerprintsOf(req.tool, args), signal: call.signal },
            run,
          );
          span.setAttribute('agentmesh.replayed', replayed);
          return { result, replayed, completedAt: new Date() };
        } catch (err) {
          outcome = codeName(MeshError.from(err).code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
          throw err;
        } finally {
          deps.metrics?.toolInvocations.inc({ tool: req.tool, outcome });
          await deps.audit?.append({
            kind: 'tool_invocation',
            service: deps.service,
            method: call.path.slice(1),
            resource: req.tool,
            subject: call.principal?.subject,
            actors: call.principal?.actors,
            peer: call.identity?.spiffeId,
            outcome,
            task_id: ctx.taskId || undefined,
            trace_id: span.spanContext().traceId,
          });
          span.end();
        }
      });
    },
  };
}
