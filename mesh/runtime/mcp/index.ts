// MCP front door of a tool service: settings, the Streamable HTTP endpoint, RFC 9728 metadata and challenges.
export { compileMcpOptions } from './mcp-settings.js';
export type { McpClientCertMode, McpOptions, McpSettings } from './mcp-settings.js';
export { startMcpServer } from './mcp-server.js';
export type { RunningMcpServer } from './mcp-server.js';
export { IDEMPOTENCY_KEY_META } from './mcp-methods.js';
export { MCP_PATH, RESOURCE_METADATA_PATH, RESOURCE_METADATA_ROOT_PATH } from './mcp-challenge.js';
