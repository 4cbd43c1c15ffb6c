import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * A workload credential from another issuer (RFC 7523 §2.2), as Entra ID's
 * workload identity federation accepts a Kubernetes projected service-account token.
 */
const federatedSchema = z.strictObject({
  /** The issuer of the assertion (e.g. the cluster's service-account issuer); its keys come from its metadata. */
  issuer: z.url(),
  /** The assertion's `sub` (e.g. system:serviceaccount:<namespace>:<name>). */
  subject: z.string().min(1),
  /** The assertion's required `aud` (default: this server's token endpoint URL). */
  audience: z.string().min(1).optional(),
});

const clientSchema = z.object({
  /** The OAuth2 client id; for workloads, the service name "namespace/name". */
  client_id: z.string().min(1),
  /** Token subject for client-credentials tokens (default: the client id). */
  subject: z.string().optional(),
  /** How the client authenticates at the token endpoint. */
  auth: z.discriminatedUnion('method', [
    /** Secret read from the secrets provider at `secret_path`, field `client_secret`. */
    z.object({ method: z.literal('client_secret_basic'), secret_path: z.string().min(1) }),
    /** RFC 7523 assertion signed with the client's private key; its public key (PEM, SPKI) is registered here. */
    z.object({
      method: z.literal('private_key_jwt'),
      public_key_pem: z.string().min(1),
      alg: z.string().default('ES256'),
    }),
    /** Only the federated credential of `federated` (the default when `federated` is given without `auth`). */
    z.object({ method: z.literal('federated') }),
  ]),
  /** A credential from another issuer the client may authenticate with (client_assertion). */
  federated: federatedSchema.optional(),
  /** Scopes the client may obtain. */
  scopes: z.array(z.string()).default([]),
  /** Audiences (service names) it may obtain tokens for; "*" for any. */
  audiences: z.array(z.string()).default([]),
  /**
   * For a workload: the file that says who may call it (its policy.json, from which the local mesh
   * derives its callers' audiences). A client refused a token for this workload is pointed to it.
   */
  policy_file: z.string().optional(),
  /** May exchange tokens addressed to itself (RFC 8693) to act for their subject. */
  token_exchange: z.boolean().default(false),
  /** May obtain tokens for a named user without a subject token (dev login; Keycloak's impersonation). */
  impersonation: z.boolean().default(false),
  /** May obtain tokens naming itself (client credentials); false for front ends that only act for people (Keycloak's service accounts off). */
  client_credentials: z.boolean().default(true),
  /** ACTIVE clients get tokens; SUSPENDED, RETIRED and disabled ones do not. */
  lifecycle: z.enum(['ACTIVE', 'SUSPENDED', 'RETIRED']).default('ACTIVE'),
  enabled: z.boolean().default(true),
});

/** A registered OAuth2 client. */
export type OAuthClient = z.infer<typeof clientSchema>;

/** A client's federated credential settings. */
export type FederatedCredential = z.infer<typeof federatedSchema>;

/** `federated` alone stands for `auth: { method: "federated" }`; `auth: federated` needs `federated`. */
function withFederatedAuth(entry: unknown): unknown {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry;
  const e = entry as Record<string, unknown>;
  return e.federated !== undefined && e.auth === undefined ? { ...e, auth: { method: 'federated' } } : e;
}

/** Parses a client list (JSON array), naming the first bad entry. */
export function parseClients(data: unknown): OAuthClient[] {
  const result = z.array(z.preprocess(withFederatedAuth, clientSchema)).safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`invalid client registration at [${issue.path.join('.')}]: ${issue.message}`);
  }
  const ids = new Set<string>();
  const federatedAs = new Map<string, string>();
  for (const [i, c] of result.data.entries()) {
    if (c.auth.method === 'federated' && !c.federated)
      throw new Error(`invalid client registration at [${i}.federated]: required by auth method federated`);
    // One workload credential, one client: otherwise an assertion without client_id would pick either.
    const pair = c.federated && `${c.federated.issuer} ${c.federated.subject}`;
    if (pair && federatedAs.has(pair))
      throw new Error(
        `clients ${federatedAs.get(pair)} and ${c.client_id} are federated as the same ${c.federated!.subject} of ${c.federated!.issuer}`,
      );
    if (pair) federatedAs.set(pair, c.client_id);
    if (ids.has(c.client_id)) throw new Error(`client ${c.client_id} is registered twice`);
    ids.add(c.client_id);
  }
  return result.data;
}

/**
 * The clients an authorization server knows. Lifecycle can change at run
 * time (the registry suspends or retires agents); a lookup hook lets the
 * registry's verdict override the file.
 */
export class ClientDirectory {
  private readonly clients = new Map<string, OAuthClient>();

  constructor(clients: OAuthClient[]) {
    for (const c of clients) this.clients.set(c.client_id, c);
  }

  /** Loads the directory from a JSON file. */
  static fromFile(file: string): ClientDirectory {
    return new ClientDirectory(parseClients(JSON.parse(readFileSync(file, 'utf8'))));
  }

  /** Replaces the whole list (the clients file changed): a client left out gets no more tokens. */
  replace(clients: OAuthClient[]): void {
    this.clients.clear();
    for (const c of clients) this.clients.set(c.client_id, c);
  }

  get(clientId: string): OAuthClient | undefined {
    return this.clients.get(clientId);
  }

  /** The client whose federated credential is the one `issuer` gives `subject`, if any. */
  federatedAs(issuer: string, subject: string): OAuthClient | undefined {
    for (const c of this.clients.values())
      if (c.federated?.issuer === issuer && c.federated.subject === subject) return c;
    return undefined;
  }

  /** The registered client ids (workloads are registered under their service names). */
  ids(): string[] {
    return [...this.clients.keys()];
  }

  /** Changes a client's lifecycle (suspend, retire, reactivate). */
  setLifecycle(clientId: string, lifecycle: OAuthClient['lifecycle']): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    client.lifecycle = lifecycle;
  }
}
