// What an external MCP server's answers become in a step: its text made fit for messages, the output
// of a result. Free of the SDK, so that code reading answers does not load it (mcp-results.ts does).

/** A tools/call result as the SDK returns it (the parts read here). */
export interface McpToolResult {
  content?: unknown[];
  structuredContent?: unknown;
  isError?: boolean;
}

/** The most of a server's text that reaches a message (task reasons, explanations, spans). */
export const SERVER_TEXT_MAX = 300;

/**
 * Text from outside the mesh made fit for messages: every value in `secrets` and any bearer
 * credential replaced by "[redacted]" (a server may echo our Authorization header), control
 * characters (terminal escapes, forged log lines) replaced by spaces, at most `max` characters.
 */
export function serverText(text: string, secrets: readonly string[] = [], max = SERVER_TEXT_MAX): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  out = out
    .replace(/\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .trim();
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/** The text of a result's text contents, joined. */
export function textOf(result: McpToolResult): string {
  return (result.content ?? [])
    .flatMap((c) => ((c as { type?: string }).type === 'text' ? [String((c as { text?: unknown }).text ?? '')] : []))
    .join('\n')
    .trim();
}

/** A step's output from a tool's result: its structured content, else its text parsed as JSON when it is JSON, else the text. */
export function outputOf(result: McpToolResult): unknown {
  if (result.structuredContent !== undefined && result.structuredContent !== null) return result.structuredContent;
  const text = textOf(result);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
