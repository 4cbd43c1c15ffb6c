export { runToolService } from './run-tool-service.js';
export { compileSchema } from './schema-validator.js';
export type { SchemaCheck } from './schema-validator.js';
export { toolCardOf, toolService } from './tool-service.js';
export type { ToolContext, ToolServiceDeps, ToolServiceInfo, ToolSpec } from './tool-service.js';
