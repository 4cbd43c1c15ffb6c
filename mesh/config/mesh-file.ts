/** The kinds of service a local mesh runs. */
export type MeshServiceKind = 'auth' | 'registry' | 'tool' | 'agent' | 'console';

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
    address: string;
    admin: string | undefined;
    spiffeId: string;
    log: string;
    trace: string | undefined;
  }[];
  /** The web console's URL, when the mesh runs one. */
  console?: string;
  /** The CLI's own identity: client credentials and its workload certificate. */
  client: { clientId: string; clientSecret: string; cert: string; key: string };
}
