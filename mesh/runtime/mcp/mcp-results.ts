import {
  InsufficientScopeError,
  OAuthClientFlowError,
  OAuthError,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { Code, isMeshError, MeshError } from '../../core/index.js';
import { outcomeUnknown } from '../executor.js';
import { notSent } from './tls-fetch.js';
import { serverText } from './mcp-text.js';

export { outputOf, SERVER_TEXT_MAX, serverText, textOf } from './mcp-text.js';
export type { McpToolResult } from './mcp-text.js';

/** What a failed call is known to have reached: `sent` once tools/call went out; `idempotent` from the registered tool. */
export interface CallFacts {
  /** "service#tool", for messages. */
  tool: string;
  sent: boolean;
  idempotent: boolean;
  /** Credentials sent with the call: never repeated in a message, whatever the server echoed. */
  secrets?: string[];
}

/** The gRPC code an HTTP status of the MCP endpoint stands for. */
function codeOfStatus(status: number): Code {
  if (status === 401) return Code.UNAUTHENTICATED;
  if (status === 403) return Code.PERMISSION_DENIED;
  if (status === 429) return Code.RESOURCE_EXHAUSTED;
  if (status === 408 || status === 502 || status === 503 || status === 504) return Code.UNAVAILABLE;
  if (status >= 500) return Code.INTERNAL;
  // 404, 405, 406, 415...: the entry's URL or protocol is wrong, which a retry does not change.
  return Code.FAILED_PRECONDITION;
}

/** The gRPC code of a JSON-RPC error answer (the server answered: it was not lost). */
function codeOfProtocolError(code: number): Code {
  if (code === -32602) return Code.INVALID_ARGUMENT;
  if (code === -32601) return Code.UNIMPLEMENTED;
  if (code === -32603) return Code.INTERNAL;
  return Code.FAILED_PRECONDITION;
}

/** Where an agentmesh MCP server puts the gRPC code of a transient tools/call failure in a JSON-RPC error's data. */
export const MESH_CODE_DATA_KEY = 'io.agentmesh/code';

// The transient codes such an answer may carry (code -32000, message "<CODE>: ...").
const TRANSIENT_CODES: Record<string, Code> = {
  UNAVAILABLE: Code.UNAVAILABLE,
  DEADLINE_EXCEEDED: Code.DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED: Code.RESOURCE_EXHAUSTED,
  ABORTED: Code.ABORTED,
};

/** The transient gRPC code a JSON-RPC error carries in data["io.agentmesh/code"], if any. */
function transientCodeOf(err: ProtocolError): Code | undefined {
  const data = err.data as Record<string, unknown> | undefined;
  const name = data && typeof data === 'object' ? data[MESH_CODE_DATA_KEY] : undefined;
  return typeof name === 'string' && Object.hasOwn(TRANSIENT_CODES, name) ? TRANSIENT_CODES[name] : undefined;
}

// Answers that show the server refused the request before acting on it: safe to repeat whatever the tool.
const REFUSED_BEFORE_ACTING = new Set([Code.UNAUTHENTICATED, Code.PERMISSION_DENIED, Code.RESOURCE_EXHAUSTED]);

/**
 * A failed MCP call as the executor's MeshError. Its code says what the
 * executor does with it (RETRYABLE codes are retried, BREAKER_FAILURES open
 * the circuit). A call that went out and then failed with no answer (lost
 * connection, timeout, a gateway's 5xx) is ambiguous: for an idempotent tool
 * UNAVAILABLE / DEADLINE_EXCEEDED (retried); for any other tool
 * outcomeUnknown (never retried: the tool may have acted).
 */
export function meshErrorOfCall(err: unknown, facts: CallFacts): MeshError {
  if (isMeshError(err)) return err;
  // An HTTP failure is reported by its status only: its body is the server's (it may echo our
  // Authorization header). Any other text is scrubbed of credentials and bounded.
  const message = (err as Error)?.message ?? String(err);
  const posted = /^Error POSTing to endpoint \(HTTP (\d{3})\)/.exec(message);
  const detail =
    err instanceof SdkHttpError
      ? `HTTP ${err.status}`
      : posted
        ? `HTTP ${posted[1]}`
        : serverText(message, facts.secrets);
  const at = `external MCP tool ${facts.tool}`;
  let code: Code;
  if (notSent(err)) {
    const certificate = /certificate|self.signed|mesh workload|altname/i.test(detail);
    // A refused certificate is the entry's (or the server's) configuration: retrying does not change it.
    return new MeshError(
      certificate ? Code.FAILED_PRECONDITION : Code.UNAVAILABLE,
      `${at}: ${certificate ? 'server certificate refused' : 'unreachable'}: ${detail}`,
      { cause: err },
    );
  }
  // 403 with WWW-Authenticate error="insufficient_scope" (what agentmesh's own MCP servers answer a
  // policy refusal with): the server refused this request before acting; our credential is what it
  // is, so no step-up is tried (onInsufficientScope: 'throw').
  if (err instanceof InsufficientScopeError) code = Code.PERMISSION_DENIED;
  else if (err instanceof OAuthClientFlowError || err instanceof OAuthError) code = Code.UNAUTHENTICATED;
  else if (err instanceof UnauthorizedError) code = Code.UNAUTHENTICATED;
  else if (err instanceof SdkHttpError) code = codeOfStatus(err.status);
  else if (err instanceof ProtocolError) {
    // A transient failure an agentmesh MCP server reports (its tool service's downstream was
    // unavailable, timed out, a conflict...): for an idempotent tool the executor retries as with
    // gRPC. For any other tool the work may have begun before it failed: outcome unknown, except
    // RESOURCE_EXHAUSTED (rate limits and quotas refuse before acting).
    const transient = transientCodeOf(err);
    if (transient !== undefined) {
      if (facts.sent && !facts.idempotent && transient !== Code.RESOURCE_EXHAUSTED)
        return outcomeUnknown(
          `${at}: outcome unknown: the server reported a transient failure (${detail}); not retried, the tool is not marked idempotent`,
          err,
        );
      return new MeshError(transient, `${at}: ${detail}`, { cause: err });
    }
    code = codeOfProtocolError(err.code);
  } else if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) code = Code.DEADLINE_EXCEEDED;
  else if ((err as Error)?.name === 'AbortError' || (err as Error)?.name === 'TimeoutError')
    code = Code.DEADLINE_EXCEEDED;
  else code = Code.UNAVAILABLE;
  // A JSON-RPC error is the server's answer to this call; anything else after sending may hide one that acted.
  const ambiguous =
    !(err instanceof ProtocolError) &&
    (code === Code.UNAVAILABLE || code === Code.DEADLINE_EXCEEDED || code === Code.INTERNAL);
  if (facts.sent && ambiguous && !facts.idempotent && !REFUSED_BEFORE_ACTING.has(code))
    return outcomeUnknown(
      `${at}: outcome unknown: the call was sent and then failed (${detail}); not retried, the tool is not marked idempotent`,
      err,
    );
  return new MeshError(code, `${at}: ${detail}`, { cause: err });
}
