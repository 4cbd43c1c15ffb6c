import type { SdkHttpError, Tool } from '@modelcontextprotocol/client';
import type { FetchLike } from './tls-fetch.js';

/** What an MCP server says about itself and its tools. */
export interface ListedMcpTools {
  tools: Tool[];
  /** The protocol version the server agreed to. */
  protocolVersion: string;
  server: { name: string; version: string; title?: string; description?: string };
  /** The server's instructions for its clients, if it gave any. */
  instructions?: string;
}

/** Options of listMcpTools. */
export interface ListMcpToolsOptions {
  /** The fetch the transport uses (e.g. tlsFetch trusting the server's CA). */
  fetch?: FetchLike;
  /** Headers sent on every request (e.g. Authorization). */
  headers?: Record<string, string>;
  /** The client's name and version in the handshake. */
  clientInfo?: { name: string; version: string };
  signal?: AbortSignal;
}

/** Listing failed: the HTTP status when the server answered with one (401: a token is needed). */
export class McpListError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'McpListError';
  }
}

/** The HTTP status of an SDK transport error, if it carries one. */
function statusOf(err: unknown, httpError: typeof SdkHttpError): number | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof httpError) return e.status;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && code >= 400 && code < 600) return code;
  }
  return undefined;
}

/**
 * Connects to an MCP server over Streamable HTTP with the official SDK client, lists all of its
 * tools (every page) and disconnects. Throws McpListError with the HTTP status when there is one.
 */
export async function listMcpTools(url: string | URL, options: ListMcpToolsOptions = {}): Promise<ListedMcpTools> {
  // Loaded on first use: the SDK client costs a process several MB it mostly never needs (npm run bench -- startup).
  const { Client, SdkHttpError, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
  const client = new Client(options.clientInfo ?? { name: 'agentmesh', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(options.fetch ? { fetch: options.fetch } : {}),
    requestInit: { headers: options.headers ?? {} },
  });
  try {
    await client.connect(transport, { signal: options.signal });
    const { tools } = await client.listTools(undefined, { signal: options.signal });
    const info = client.getServerVersion();
    return {
      tools,
      protocolVersion: client.getNegotiatedProtocolVersion() ?? '',
      server: {
        name: info?.name ?? '',
        version: info?.version ?? '',
        ...(info?.title ? { title: info.title } : {}),
        ...(info?.description ? { description: info.description } : {}),
      },
      ...(client.getInstructions() ? { instructions: client.getInstructions() } : {}),
    };
  } catch (err) {
    const message = (err as Error).message?.split('\n')[0] ?? String(err);
    throw new McpListError(message, statusOf(err, SdkHttpError), { cause: err });
  } finally {
    await client.close().catch(() => undefined);
  }
}
