// agentmesh/testing: what a team needs to test its agents against a real, secured mesh.
export { startTestMesh } from './start-test-mesh.js';
export { TestMesh } from './test-mesh.js';
export type { TestMeshOptions } from './test-mesh.js';
export type { TestClientOptions } from './test-client.js';
export type { RunningAgent, StartAgentOptions } from './agent-process.js';
export type { StubToolService, ToolCall } from './stub-tools.js';
export { TEST_CALLER } from './mesh-home.js';
export { ScriptedModel, scriptedModel } from './scripted-model.js';
export type { ScriptedModelOptions } from './scripted-model.js';
export { OpenAiDouble } from './openai-double.js';
export type { ChatRequest, OpenAiDoubleOptions, ScriptedAnswer } from './openai-double.js';
export type { ChildService } from './child-service.js';
