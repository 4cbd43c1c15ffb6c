// Listing an external MCP server's tools for `agentmesh register mcp`, as the administrator.
import { existsSync, readFileSync } from 'node:fs';
import { listMcpTools, McpListError, notAMeshWorkload, tlsFetch, type ListedMcpTools } from '../../mesh/index.js';
import { CliError } from './cli-error.js';
import { meshFilePath } from './connection.js';

/** The running mesh's trust domain (mesh.json), if there is one to read. */
function meshTrustDomain(): string | undefined {
  try {
    const path = meshFilePath();
    if (!existsSync(path)) return undefined;
    const { trustDomain } = JSON.parse(readFileSync(path, 'utf8')) as { trustDomain?: unknown };
    return typeof trustDomain === 'string' && trustDomain ? trustDomain : undefined;
  } catch {
    return undefined;
  }
}

/** The bearer token for listing, from the environment variable named by --bearer-env (never stored). */
export function listingHeaders(variable: string | undefined): Record<string, string> {
  if (variable === undefined) return {};
  const token = process.env[variable]?.trim();
  if (!token) throw new CliError(`--bearer-env ${variable}: the environment variable ${variable} is not set`, 2);
  return { authorization: `Bearer ${token}` };
}

/**
 * Lists the server's tools as agents will reach it (trusting exactly `caPem`, else the system
 * roots; a certificate of the mesh's trust domain refused, when mesh.json names it); one-line errors.
 */
export async function listTools(url: string, caPem: string, bearerEnv: string | undefined): Promise<ListedMcpTools> {
  const trustDomain = meshTrustDomain();
  const http = tlsFetch({ caPem, ...(trustDomain ? { checkServer: notAMeshWorkload(trustDomain) } : {}) });
  try {
    return await listMcpTools(url, {
      fetch: http.fetch,
      headers: listingHeaders(bearerEnv),
      clientInfo: { name: 'agentmesh-cli', version: '1.0.0' },
    });
  } catch (err) {
    if (!(err instanceof McpListError)) throw err;
    if (err.status === 401)
      throw new CliError(
        bearerEnv
          ? `the MCP server at ${url} refused the token in ${bearerEnv} (HTTP 401)`
          : `the MCP server at ${url} wants a token to list its tools (HTTP 401): pass --bearer-env VAR, VAR holding your own token for it`,
      );
    const why = err.status ? `HTTP ${err.status}` : err.message.slice(0, 200);
    throw new CliError(`cannot list the tools of the MCP server at ${url}: ${why}`);
  } finally {
    http.close();
  }
}
