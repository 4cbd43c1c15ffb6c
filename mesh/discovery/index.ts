// Finding collaborators: card validation, name patterns, scope ranking, the discovery client and registration.
export { checkSchema, ENTRY_NAME, validateAgentCard, validateToolCard } from './card-validation.js';
export {
  checkExternalBinding,
  EXTERNAL_A2A_VERSION,
  EXTERNAL_INSTANCE_ID,
  externalEndpointOf,
  isExternalCardJson,
  parseExternalA2aCard,
} from './external-card.js';
export {
  checkExternalMcpServer,
  isLoopbackOrLinkLocal,
  mcpAddressOf,
  parseExternalHttpsUrl,
  parseMcpSecretRef,
} from './external-mcp.js';
export { compileNamePattern, globMatches, MAX_PATTERN_LENGTH } from './name-pattern.js';
export type { NameMatcher } from './name-pattern.js';
export { compareMatches, compileScope, matchCandidate } from './scope-match.js';
export type { Candidate, CompiledScope, Match } from './scope-match.js';
export { DiscoveryIndex } from './discovery-index.js';
export { DEFAULT_MAX_EXAMINED } from './search-budget.js';
export type { Indexed, Ranked } from './discovery-index.js';
export { DiscoveryClient, endpointsOf } from './discovery-client.js';
export { Registration } from './registration.js';
export type { RegisteredCard } from './registration.js';
