// Zero-trust security: SPIFFE ids, certificates, mTLS / Istio transports, OAuth2 tokens, caller policies, secrets.
export { CertificateFiles, CertificateFilesError } from './cert-files.js';
export type { CertificatePaths } from './cert-files.js';
export { createCa, issueWorkloadCert, loadCa } from './dev-ca.js';
export type { CertificateAuthority, PemPair, WorkloadCertOptions } from './dev-ca.js';
export { httpRequest } from './https-client.js';
export { issuerMetadata, metadataUrls } from './issuer-metadata.js';
export { authorize, loadPolicy, parsePolicy } from './policy.js';
export type { Decision, PolicyRule, ServicePolicy } from './policy.js';
export { bearerToken, securityInterceptor } from './security-interceptor.js';
export type { SecurityOptions } from './security-interceptor.js';
export { matchesSpiffePattern, parseSpiffeId, spiffeId, spiffeIdOfService } from './spiffe-id.js';
export type { SpiffeId } from './spiffe-id.js';
export { TokenClient } from './token-client.js';
export type { ClientAuthMethod, TokenClientOptions } from './token-client.js';
export { actorsOf, DEFAULT_ALGORITHMS, TokenError, TokenVerifier, TrustedIssuers } from './token-verifier.js';
export type { TokenCheck, TokenFailure, TokenVerifierOptions } from './token-verifier.js';
export { mapClaims, PRESET_NAMES, PRESETS } from './claim-mapping.js';
export type { AudienceRequest, ClaimMapping, IssuerPreset, MappedClaims, PresetName } from './claim-mapping.js';
export { trustedIssuersFromFile } from './trust-file.js';
export type { TrustContext } from './trust-file.js';
export { audienceFields } from './audience-fields.js';
export { postTokenForm } from './token-form.js';
export type { TokenAnswer } from './token-form.js';
export { audienceScheme, audienceSchemeProblem, parseExplicitAudiences } from './audiences.js';
export type { AudienceOf } from './audiences.js';
export { DEFAULT_TRUSTED_PROXIES, spiffeUrisOf, Transport } from './transport.js';
export type { TransportMode, TransportOptions } from './transport.js';
export { parseXfcc, peerUriFromXfcc } from './xfcc.js';
export {
  clientSecurityConfigSchema,
  clientSecurityFromEnv,
  securityConfigSchema,
  securityFromEnv,
} from './security-config.js';
export type { ClientSecuritySetup, SecurityConfig, SecuritySetup } from './security-config.js';
export * from './secrets/index.js';
