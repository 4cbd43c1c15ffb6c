import { INVOKE_TOOL_PATH, LIST_TOOLS_PATH, meshPathOf, meshPathsOf } from './mcp-methods.js';

describe('JSON-RPC methods to the ToolService methods the policy checks', () => {
  test('tools/call is InvokeTool; anything else is ListTools', () => {
    expect(meshPathOf('tools/call')).toBe(INVOKE_TOOL_PATH);
    for (const m of ['tools/list', 'initialize', 'ping', 'notifications/initialized', 'resources/list'])
      expect(meshPathOf(m)).toBe(LIST_TOOLS_PATH);
  });

  test('a body: one message, a batch (deduplicated), or something without a method', () => {
    expect(meshPathsOf({ jsonrpc: '2.0', id: 1, method: 'tools/call' })).toEqual([INVOKE_TOOL_PATH]);
    expect(meshPathsOf([{ method: 'tools/list' }, { method: 'tools/call' }, { method: 'tools/call' }])).toEqual([
      LIST_TOOLS_PATH,
      INVOKE_TOOL_PATH,
    ]);
    expect(meshPathsOf(null)).toEqual([LIST_TOOLS_PATH]);
    expect(meshPathsOf({ id: 1, result: {} })).toEqual([LIST_TOOLS_PATH]);
  });
});
