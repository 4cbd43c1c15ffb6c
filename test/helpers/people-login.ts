// `agentmesh login` at a mesh started with a people issuer, as a person at a terminal does it: the
// CLI prints a code, the person enters it at the provider (test IdP's device verification page).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ClientMetadata } from 'oidc-provider';
import type { TestIdp } from './oidc-idp.js';
import { ROOT } from './processes.js';

/** The public client the CLI logs people in with, as registered at the test IdP: device grant and refresh tokens. */
export const deviceLoginClient = (clientId: string): ClientMetadata => ({
  client_id: clientId,
  token_endpoint_auth_method: 'none',
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  response_types: [],
  redirect_uris: [],
});

/** Runs `agentmesh login` for the mesh in `home`; `person` enters its code at `idp` (or refuses, with `deny`). */
export async function loginAtTerminal(
  home: string,
  idp: TestIdp,
  person: string,
  o: { deny?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), 'login'], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: home },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  const code = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      const m = /enter the code (\S+)/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`login ended before showing a code: ${stdout}${stderr}`)));
  });
  await idp.verifyDevice(person, code, o);
  return { code: await exited, stdout, stderr };
}
