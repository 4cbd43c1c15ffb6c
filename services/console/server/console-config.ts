import { z } from 'zod';
import { millis, port } from '../../../mesh/index.js';

/** The console's own settings (the security ones are the mesh's: AGENTMESH_TLS_*, AGENTMESH_OAUTH_*...). */
export const consoleConfigSchema = z.object({
  /** host:port of the registry: marketplace search, cards, and where agents run. */
  AGENTMESH_REGISTRY_ADDRESS: z.string().regex(/^\S+:\d+$/, 'must be host:port'),
  AGENTMESH_REGISTRY_NAME: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, 'must be namespace/name')
    .default('agentmesh/registry'),
  /** The local mesh's mesh.json: the operations view and service logs read it (unset: those views say so). */
  AGENTMESH_CONSOLE_MESH_FILE: z.string().optional(),
  /** With a people issuer (written by the launcher): people sign in there; unset: the dev login. */
  AGENTMESH_CONSOLE_PEOPLE_FILE: z.string().optional(),
  /** The built front end (default: services/console/dist, set by the console's main). */
  AGENTMESH_CONSOLE_ASSETS_DIR: z.string().optional(),
  /** A session unused this long ends. */
  AGENTMESH_CONSOLE_SESSION_IDLE_MS: millis().default(30 * 60_000),
  /** Every session ends this long after sign-in. */
  AGENTMESH_CONSOLE_SESSION_MAX_MS: millis().default(8 * 3_600_000),
  AGENTMESH_ADMIN_HOST: z.string().default('127.0.0.1'),
  /** Admin HTTP port (/metrics, /livez, /readyz); 0 picks a free one. */
  AGENTMESH_ADMIN_PORT: port().default(0),
  /** The console's data directory (its audit trail). */
  AGENTMESH_DATA_DIR: z.string().default('.agentmesh/data/agentmesh-console'),
});

/** Parsed console settings. */
export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
