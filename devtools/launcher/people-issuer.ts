// `npm start` pointed at an external issuer for people (an enterprise IdP): people log in there,
// workloads keep the mesh's own issuer. The launcher writes a trust file every service reads
// (AGENTMESH_OAUTH_TRUST_FILE, the auth server too: it accepts these tokens as subject tokens)
// and names the issuer in mesh.json, where the CLI and the console find it.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import {
  audienceScheme,
  audienceSchemeProblem,
  ConfigError,
  PRESET_NAMES,
  PRESETS,
  writePrivateFile,
  type PeopleIssuer,
  type PresetName,
} from '../../mesh/index.js';
import type { MeshPlan } from './mesh-plan.js';

/** Scopes people use the mesh with (the CLI's and the console's, never workload scopes). */
const PEOPLE_SCOPES = ['task.read', 'task.write', 'registry.read'];

/**
 * AGENTMESH_PEOPLE_* settings, or undefined without AGENTMESH_PEOPLE_ISSUER.
 * The audience scheme defaults to spiffe: RFC 8707 resource indicators are absolute URIs.
 */
export function peopleIssuerFromEnv(env: NodeJS.ProcessEnv): PeopleIssuer | undefined {
  const issuer = env.AGENTMESH_PEOPLE_ISSUER;
  if (!issuer) {
    const stray = ['PRESET', 'AUDIENCE', 'CA', 'CLIENT_ID'].find((k) => env[`AGENTMESH_PEOPLE_${k}`]);
    if (stray) throw new ConfigError(`AGENTMESH_PEOPLE_${stray}`, 'is set, but AGENTMESH_PEOPLE_ISSUER is not');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError('AGENTMESH_PEOPLE_ISSUER', `is not a URL (${issuer})`);
  }
  if (url.protocol !== 'https:')
    throw new ConfigError('AGENTMESH_PEOPLE_ISSUER', `must be an https:// URL (${issuer})`);
  const clientId = env.AGENTMESH_PEOPLE_CLIENT_ID;
  if (!clientId)
    throw new ConfigError(
      'AGENTMESH_PEOPLE_CLIENT_ID',
      'is required with AGENTMESH_PEOPLE_ISSUER: the public client the CLI and console log people in with',
    );
  const preset = env.AGENTMESH_PEOPLE_PRESET || 'rfc9068';
  if (!(PRESET_NAMES as readonly string[]).includes(preset))
    throw new ConfigError('AGENTMESH_PEOPLE_PRESET', `is ${preset}: use one of ${PRESET_NAMES.join(', ')}`);
  const audience = env.AGENTMESH_PEOPLE_AUDIENCE || 'spiffe';
  // RFC 8707 resource indicators must be absolute URIs; other request styles name audiences their own way.
  const problem = audienceSchemeProblem(audience, PRESETS[preset as PresetName].request.includes('resource'));
  if (problem) throw new ConfigError('AGENTMESH_PEOPLE_AUDIENCE', problem);
  const ca = env.AGENTMESH_PEOPLE_CA || undefined;
  if (ca && !existsSync(ca)) throw new ConfigError('AGENTMESH_PEOPLE_CA', `names no file (${ca})`);
  return { issuer, clientId, preset, audience, ...(ca ? { ca } : {}), scopes: PEOPLE_SCOPES };
}

/**
 * Writes <home>/people-trust.json (AGENTMESH_OAUTH_TRUST_FILE format) and returns its path. Without
 * AGENTMESH_PEOPLE_CA the issuer is trusted through the public roots Node ships (written beside it):
 * a trust file's issuer without `ca` would be checked against the mesh's own CA.
 */
export function writePeopleTrustFile(home: string, people: PeopleIssuer): string {
  const file = join(home, 'people-trust.json');
  let ca = people.ca;
  if (!ca) {
    ca = join(home, 'people-ca.pem');
    writeFileSync(ca, `${rootCertificates.join('\n')}\n`);
  }
  const entry = { issuer: people.issuer, preset: people.preset, audience: people.audience, ca };
  writePrivateFile(file, `${JSON.stringify({ issuers: [entry] }, null, 2)}\n`);
  return file;
}

/**
 * Writes <home>/console-people.json (AGENTMESH_CONSOLE_PEOPLE_FILE): the people issuer and every audience the
 * console may ask for a person (the resources of its authorization request), the registry's first.
 */
export function writeConsolePeopleFile(plan: MeshPlan, people: PeopleIssuer): string {
  const audienceOf = audienceScheme(people.audience, plan.trustDomain);
  const callees = plan.services.filter((s) => s.kind !== 'auth' && s.kind !== 'console');
  callees.sort((a, b) => Number(b.kind === 'registry') - Number(a.kind === 'registry'));
  const file = join(plan.home, 'console-people.json');
  const audiences = [...new Set(callees.map((s) => audienceOf(s.name)))];
  writePrivateFile(file, `${JSON.stringify({ ...people, audiences }, null, 2)}\n`);
  return file;
}
