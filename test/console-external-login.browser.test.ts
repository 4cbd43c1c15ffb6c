// The web console of a mesh started with an external people issuer, in a real browser (Debian's
// headless Chromium): "Sign in" goes to the issuer (a real OpenID provider, oidc-provider over HTTPS),
// the person logs in on its own login page, comes back signed in and sees the registry's entries,
// listed with the person's own tokens. The page never holds a token; sign-out ends the session.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchMesh, type RunningMesh } from '../devtools/launcher/launcher.js';
import { peopleIssuerFromEnv } from '../devtools/launcher/people-issuer.js';
import { launchChromium, spkiPin } from './helpers/browser.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';
import { ROOT } from './helpers/processes.js';

const CLIENT = 'agentmesh-people';
/** The console is the fourth service of the manifest: its port is the block's base + 3. */
const SERVICES = [
  { name: 'agentmesh/auth', kind: 'auth', entry: 'services/auth/main.ts' },
  { name: 'agentmesh/registry', kind: 'registry', entry: 'services/registry/main.ts' },
  { name: 'banking/loan-math', kind: 'tool', entry: 'services/tools/loan-math/main.ts' },
  { name: 'agentmesh/console', kind: 'console', entry: 'services/console/main.ts' },
];

describe('the console signs people in at an external issuer', () => {
  let files: LocalMeshFiles;
  let idp: TestIdp;
  let idpCert: string;
  let dir: string;
  let home: string;
  let mesh: RunningMesh;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    files = await createLocalMeshFiles([]);
    const tls = files.issue('agentmesh/idp');
    idpCert = tls.cert;
    // Port blocks to try (another program may hold one): the issuer knows the callback of each.
    const blocks = [0, 1, 2].map(() => 40_000 + Math.floor(Math.random() * 200) * 100);
    idp = await startIdp({
      tls: { ...tls, ca: join(files.certs, 'ca.crt') },
      clients: [
        {
          client_id: CLIENT,
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: blocks.map((b) => `https://127.0.0.1:${b + 3}/auth/callback`),
        },
      ],
      people: { ada: { roles: ['loan-officer'] } },
    });
    dir = mkdtempSync(join(tmpdir(), 'agentmesh-console-people-'));
    home = join(dir, 'home');
    const manifest = join(dir, 'mesh-manifest.json');
    writeFileSync(manifest, JSON.stringify({ trustDomain: 'agentmesh.local', services: SERVICES }));
    const people = peopleIssuerFromEnv({
      AGENTMESH_PEOPLE_ISSUER: idp.issuer,
      AGENTMESH_PEOPLE_CLIENT_ID: CLIENT,
      AGENTMESH_PEOPLE_CA: join(files.certs, 'ca.crt'),
    });
    for (const basePort of blocks) {
      try {
        mesh = await launchMesh({ root: ROOT, home, manifest, basePort, people });
        break;
      } catch (err) {
        if (basePort === blocks[2] || !/is in use/.test((err as Error).message)) throw err;
      }
    }
    browser = await launchChromium([spkiPin(join(home, 'certs', 'agentmesh', 'console.crt')), spkiPin(idpCert)]);
    page = await browser.newPage();
    page.setDefaultTimeout(30_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await mesh?.stop();
    await idp?.close();
    files?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('Sign in goes to the issuer; ada logs in there and sees the registry’s entries as herself', async () => {
    await page.goto(mesh.file.console!);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText(`People sign in at ${idp.issuer}`).waitFor();
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The issuer's own login page (development interactions: any password), then its consent page.
    await page.waitForURL((u) => u.origin === idp.issuer);
    await page.locator('input[name="login"]').fill('ada');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(mesh.file.console!);
    await page.locator('#signed-in-user', { hasText: 'ada' }).waitFor();
    expect(await page.locator('#signed-in-roles').innerText()).toContain('loan-officer');
    await page.getByRole('heading', { name: '1 match' }).waitFor();
    expect(await page.locator('.results .result').first().innerText()).toContain('banking/loan-math');
    // The page holds no token: the session cookie is HttpOnly, and its storage is empty.
    expect(await page.evaluate('document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)')).toBe(
      '{}{}',
    );
  }, 60_000);

  test('the dev login is refused while people sign in at the issuer', async () => {
    const answer = await page.evaluate(async () => {
      const res = await fetch('/api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'ben' }),
      });
      return { status: res.status, body: (await res.json()) as { message: string } };
    });
    expect(answer.status).toBe(403);
    expect(answer.body.message).toBe(`this console signs people in at ${idp.issuer}, not with the dev login`);
  });

  test('sign-out ends the session: the sign-in page again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const status = await page.evaluate(async () => (await fetch('/api/session')).status);
    expect(status).toBe(401);
  });

  test('a callback this browser did not start (a forged or replayed state) signs no one in', async () => {
    const answer = await page.goto(`${mesh.file.console!}auth/callback?state=forged-state&code=stolen-code`);
    expect(answer?.status()).toBe(400);
    expect(await answer?.text()).toContain('this sign-in is unknown or too old: sign in again');
    const status = await page.evaluate(async () => (await fetch('/api/session')).status);
    expect(status).toBe(401);
  });
});
