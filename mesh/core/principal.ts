/** How the caller's workload identity was established. */
export type IdentitySource = 'mtls' | 'xfcc' | 'none';

/** The caller's workload identity (transport layer). */
export interface PeerIdentity {
  /** The SPIFFE ID; undefined in insecure mode. */
  spiffeId: string | undefined;
  source: IdentitySource;
}

/** The verified caller of a request: workload identity plus access token. */
export interface Principal {
  peer: PeerIdentity;
  /** The token's subject: a user after token exchange, else the client. */
  subject: string;
  /** The OAuth2 client that obtained the token. */
  clientId: string | undefined;
  /** Scopes granted by the token. */
  scopes: string[];
  /** A person's roles and groups from the token (`roles` and `groups` claims): who may answer an approval, who audits. */
  roles: string[];
  /** The token is a workload's own (client credentials), by the issuer's claim mapping: never a person. */
  workload?: boolean;
  /** The acting agents from the `act` claim, the current actor first. */
  actors: string[];
  /** The raw access token, for token exchange by agents. Never log it. */
  token: string;
  /** All verified claims. */
  claims: Record<string, unknown>;
}
