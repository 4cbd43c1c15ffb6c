import { ProtocolError } from '@modelcontextprotocol/server';
import { ToolCard } from '../../../gen/agentmesh/v1/card.js';
import { Code, codeName, MeshError } from '../../core/index.js';
import { callFailureOf, callResultOf, mcpToolsOf } from './mcp-tools.js';

describe('ToolService answers as MCP results', () => {
  test('tools: input schema, output schema only for object results, idempotent hint', () => {
    const card = ToolCard.fromPartial({
      name: 'banking/loan-math',
      tools: [
        {
          name: 'convert',
          description: 'd',
          argumentsSchema: { type: 'object', required: ['amount'] },
          resultSchema: { type: 'object' },
          idempotent: true,
        },
        { name: 'count', description: 'n', argumentsSchema: { type: 'object' }, resultSchema: { type: 'number' } },
      ],
    });
    const [convert, count] = mcpToolsOf(card);
    expect(convert).toEqual({
      name: 'convert',
      description: 'd',
      inputSchema: { type: 'object', required: ['amount'] },
      outputSchema: { type: 'object' },
      annotations: { idempotentHint: true },
    });
    expect(count!.outputSchema).toBeUndefined();
    expect(count!.annotations).toEqual({ idempotentHint: false });
  });

  test('results: structuredContent for objects only; text always', () => {
    expect(callResultOf({ result: { a: 1 }, replayed: false, completedAt: undefined })).toEqual({
      content: [{ type: 'text', text: '{"a":1}' }],
      structuredContent: { a: 1 },
    });
    expect(callResultOf({ result: [1, 2], replayed: true, completedAt: undefined })).toEqual({
      content: [{ type: 'text', text: '[1,2]' }],
      _meta: { 'io.agentmesh/replayed': true },
    });
  });

  test('failures: tool errors are isError results; an unknown tool -32602; a transient one -32000 naming its code; a server fault a generic -32603', () => {
    expect(callFailureOf(new MeshError(Code.FAILED_PRECONDITION, 'account closed'))).toEqual({
      isError: true,
      content: [{ type: 'text', text: 'FAILED_PRECONDITION: account closed' }],
    });
    const unknown = () => callFailureOf(new MeshError(Code.NOT_FOUND, 'tool x does not exist in a/b'));
    expect(unknown).toThrow(ProtocolError);
    expect(unknown).toThrow(expect.objectContaining({ code: -32602 }) as never);
    for (const code of [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.ABORTED]) {
      const transient = () => callFailureOf(new MeshError(code, 'try later'));
      expect(transient).toThrow(ProtocolError);
      expect(transient).toThrow(
        expect.objectContaining({
          code: -32000,
          message: `${codeName(code)}: try later`,
          data: { 'io.agentmesh/code': codeName(code) },
        }) as never,
      );
    }
    const fault = () => callFailureOf(new Error('db password is hunter2'));
    expect(fault).toThrow(
      expect.objectContaining({ code: -32603, message: expect.not.stringContaining('hunter2') }) as never,
    );
  });
});
