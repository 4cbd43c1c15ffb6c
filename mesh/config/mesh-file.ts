/** The kinds of service a local mesh runs. */
export type MeshServiceKind = 'auth' | 'registry' | 'tool' | 'agent' | 'console';

/** One process of a service in the local mesh; replicas share the service's name, identity and state. */
export interface MeshReplica {
  name: string;
  address: string;
  admin: string | undefined;
  log: string;
  trace: string | undefined;
  /** Agents: the full URL of this replica's public A2A AgentCard (HTTPS with mutual TLS, /.well-known/agent-card.json). */
  a2aCard?: string;
  /** Tool services serving MCP: this replica's MCP endpoint (Streamable HTTP, HTTPS with mutual TLS, /mcp). */
  mcp?: string;
}

/** What `.agentmesh/mesh.json` holds once everything is ready: how the CLI and other clients reach the mesh. */
export interface MeshFile {
  version: 1;
  startedAt: string;
  launcherPid: number;
  trustDomain: string;
  basePort: number;
  /** Path of the mesh CA's certificate (PEM): trust it for gRPC and the auth server's HTTPS. */
  ca: string;
  issuer: string;
  tokenUrl: string;
  services: {
    name: string;
    kind: MeshServiceKind;
    /** The first replica's gRPC address (what readers of one-process meshes use). */
    address: string;
    /** Every replica's gRPC address, the first one first: join them with "," for a client balanced over all. */
    addresses?: string[];
    admin: string | undefined;
    spiffeId: string;
    log: string;
    trace: string | undefined;
    /**
     * Agents: the full URL of the first replica's public A2A AgentCard (A2A §8.2):
     * https://127.0.0.1:<port>/.well-known/agent-card.json, mutual TLS with a certificate of the mesh CA.
     */
    a2aCard?: string;
    /** Tool services serving MCP: the first replica's MCP endpoint, https://127.0.0.1:<port>/mcp (mutual TLS). */
    mcp?: string;
    /** Each replica (one for most services): its label (`<name>#<n>` when several), addresses and files. */
    replicas?: MeshReplica[];
  }[];
  /** The web console's URL, when the mesh runs one. */
  console?: string;
  /** The CLI's own identity: client credentials and its workload certificate. */
  client: { clientId: string; clientSecret: string; cert: string; key: string };
  /** The external issuer people log in at (`npm start` with AGENTMESH_PEOPLE_ISSUER), when there is one. */
  people?: PeopleIssuer;
}

/** The people issuer as mesh.json records it for the CLI and the console. */
export interface PeopleIssuer {
  issuer: string;
  /** The public client (no secret) the CLI and the console log people in with. */
  clientId: string;
  /** Claim mapping preset of its tokens (mesh/security/claim-mapping.ts). */
  preset: string;
  /** Audience scheme of its tokens: what a person's token for a service names. */
  audience: string;
  /** PEM file of the CA of its TLS certificate; unset: the system's CAs. */
  ca?: string;
  /** Scopes asked for at login (besides openid offline_access). */
  scopes: string[];
}
