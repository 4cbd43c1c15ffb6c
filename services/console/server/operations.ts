import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MeshFile } from '../../../mesh/index.js';
import { httpRequest } from '../../../mesh/index.js';
import { verifyAuditFile, type AuditVerification } from '../../../mesh/index.js';
import { summarizeMetrics, type MetricsSummary } from './metrics-summary.js';

/** What the operations view shows for one service. */
export interface ServiceStatus {
  name: string;
  kind: string;
  address: string;
  admin: string | undefined;
  /** ready: serving; not-ready: alive but not taking traffic; down: no answer. */
  health: 'ready' | 'not-ready' | 'down';
  metrics: MetricsSummary | undefined;
  /** The audit chain's verification; undefined when the service keeps none. */
  audit: AuditVerification | undefined;
}

const PROBE_TIMEOUT_MS = 1_500;

/** The mesh as the console's host sees it: mesh.json, written by the launcher once everything is up. */
export function readMeshFile(file: string | undefined): { mesh: MeshFile; home: string } | undefined {
  if (!file || !existsSync(file)) return undefined;
  return { mesh: JSON.parse(readFileSync(file, 'utf8')) as MeshFile, home: dirname(file) };
}

/** Audit chains are verified again only when their file changed. */
const verified = new Map<string, { stamp: string; result: AuditVerification }>();

function auditOf(file: string): AuditVerification | undefined {
  if (!existsSync(file)) return undefined;
  const { size, mtimeMs } = statSync(file);
  const stamp = `${size}:${mtimeMs}`;
  const known = verified.get(file);
  if (known?.stamp === stamp) return known.result;
  const result = verifyAuditFile(file);
  verified.set(file, { stamp, result });
  return result;
}

async function healthOf(s: MeshFile['services'][number], mesh: MeshFile, ca: string): Promise<ServiceStatus['health']> {
  const probe = (url: string) =>
    httpRequest(url, { ca, timeoutMs: PROBE_TIMEOUT_MS }).then(
      (a) => a.status,
      () => 0,
    );
  if (!s.admin)
    return (await probe(`${mesh.issuer}/.well-known/oauth-authorization-server`)) === 200 ? 'ready' : 'down';
  const ready = await probe(`http://${s.admin}/readyz`);
  if (ready === 200) return 'ready';
  return (await probe(`http://${s.admin}/livez`)) === 200 ? 'not-ready' : 'down';
}

async function metricsOf(admin: string | undefined): Promise<MetricsSummary | undefined> {
  if (!admin) return undefined;
  const answer = await httpRequest(`http://${admin}/metrics`, { timeoutMs: PROBE_TIMEOUT_MS }).catch(() => undefined);
  return answer?.status === 200 ? summarizeMetrics(answer.body.toString()) : undefined;
}

/** Health (readyz/livez, the auth server's metadata), key metrics and the audit chain of every service of the local mesh. */
export async function meshStatus(mesh: MeshFile, home: string): Promise<ServiceStatus[]> {
  const ca = readFileSync(mesh.ca, 'utf8');
  return Promise.all(
    mesh.services.map(async (s) => ({
      name: s.name,
      kind: s.kind,
      address: s.address,
      admin: s.admin,
      health: await healthOf(s, mesh, ca),
      metrics: await metricsOf(s.admin),
      audit: auditOf(join(home, 'data', s.name.replace('/', '-'), 'audit.jsonl')),
    })),
  );
}
