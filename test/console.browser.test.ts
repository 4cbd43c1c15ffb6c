// The web console in a real browser (Debian's headless Chromium through playwright-core) against the
// whole local mesh started the way `npm start` starts it: real certificates, tokens and services.
// One mesh and one browser serve the whole story; each test continues where the previous one left off.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { httpRequest } from '../mesh/security/https-client.js';
import { TokenClient } from '../mesh/security/token-client.js';
import { launchChromium, screenshot, spkiPin } from './helpers/browser.js';
import { startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';

const ORCHESTRATOR = 'lending/loan-orchestrator';
const WAIT = { timeout: 60_000 };

/**
 * Chromium logs every API answer of 4xx as a console error; the page shows those answers (no session yet, a
 * missing scope) as refusals, so they are not faults of the page. A 5xx, or a failed script or style, is.
 */
const answeredRefusal = (m: ConsoleMessage) =>
  /^Failed to load resource: the server responded with a status of 4\d\d\b/.test(m.text()) &&
  new URL(m.location().url).pathname.startsWith('/api/');

describe('the web console in a browser: marketplace, tasks, explanations, operations, refusals', () => {
  let home: string;
  let mesh: LocalMesh;
  let browser: Browser;
  let page: Page;
  let url: string;
  // What the page itself reported as wrong (console errors, uncaught exceptions): every test ends with none.
  const pageProblems: string[] = [];

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'agentmesh-console-'));
    mesh = await startLocalMesh(home);
    url = mesh.file.console!;
    browser = await launchChromium([spkiPin(join(home, 'certs', 'agentmesh', 'console.crt'))]);
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.setDefaultTimeout(30_000);
    page.on('console', (m) => {
      if (m.type() === 'error' && !answeredRefusal(m)) pageProblems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (err) => pageProblems.push(`uncaught: ${err.message}`));
  }, 150_000);

  afterEach(() => {
    expect(pageProblems.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    if (mesh && mesh.launcher.child.exitCode === null) {
      mesh.launcher.child.kill('SIGTERM');
      await mesh.launcher.exited;
    }
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  const text = (selector: string) => page.locator(selector).first().innerText();
  const signIn = async (user: string) => {
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signed-in-user', { hasText: user }).waitFor();
  };

  test('mesh.json names the console; a person signs in and finds the orchestrator by skill, with the keyboard', async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(mesh.launcher.stdout()).toContain(`console: ${url}`);
    await page.goto(url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, '01-sign-in');
    await signIn('ada');
    expect(await text('.who')).toContain('scopes: registry.read task.read task.write');
    await page.getByLabel('Skill').focus();
    await page.keyboard.type('prequalify-loan');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: '1 match' }).waitFor();
    const results = page.locator('.results .result');
    expect(await results.count()).toBe(1);
    expect(await results.first().innerText()).toMatch(
      /lending\/loan-orchestrator @1\.0\.0[\s\S]*Pre-qualify retail loans end to end[\s\S]*Matched: .*prequalify-loan/,
    );
    await screenshot(page, '02-marketplace');
    await page.getByRole('link', { name: ORCHESTRATOR }).click();
    await page.getByRole('heading', { name: 'Policies', level: 2 }).waitFor();
    const card = await text('main');
    expect(card).toContain('Pre-qualify retail loans end to end.');
    expect(card).toContain('bank/four-eyes');
    expect(card).toContain('team-lending');
    expect(card).toMatch(/1 live instance\(s\)/);
    expect(card).toContain('Pre-qualify a loan');
    await page.getByText('Input schema and output schema').click();
    expect(await text('.schemas')).toContain('"pattern": "^C-[0-9]{4}$"');
    await screenshot(page, '03-agent-page');
  }, 60_000);

  test('the form generated from the skill sends the demo task; it completes live; the explanation tree opens down to a child task and the trace’s logs', async () => {
    await page.getByRole('button', { name: /Use example 1/ }).click();
    expect(await page.getByLabel(/Customer Id/).inputValue()).toBe('C-1001');
    expect(await page.getByLabel(/Currency/).inputValue()).toBe('EUR');
    await page.getByRole('button', { name: 'Send task' }).click();
    await page.waitForURL(/#\/task\/lending\/loan-orchestrator\//);
    await page.locator('#task-state', { hasText: 'COMPLETED' }).waitFor(WAIT);
    expect(await text('.progress')).toMatch(
      /plan: customer → fx → risk → compliance → approval → decision[\s\S]*step risk succeeded[\s\S]*task COMPLETED/,
    );
    await page.getByRole('heading', { name: 'Result' }).waitFor();
    expect(await text('pre[aria-label=result]')).toContain('"decision": "pre-qualified"');
    await page.locator('.explanation').first().waitFor(WAIT);
    expect(await text('.plan-graph')).toMatch(
      /fx\s+SUCCEEDED[\s\S]*risk\s+SUCCEEDED[\s\S]*compliance\s+SUCCEEDED[\s\S]*approval\s+SKIPPED/,
    );
    const risk = page
      .locator('.depth-0 > .steps > .step')
      .filter({ has: page.locator('summary strong', { hasText: /^risk$/ }) });
    await risk.locator('summary').first().click();
    expect(await risk.innerText()).toMatch(
      /Collaborator: lending\/credit-risk@1\.0\.0 at 127\.0\.0\.1:\d+ — chosen because .*named by the playbook prequalify-loan/,
    );
    expect(await risk.locator('table.subs').first().innerText()).toMatch(/\/customerId\s+input\.customerId\s+"C-1001"/);
    await risk.locator('.child-task > summary').click();
    const child = risk.locator('.child-task .explanation');
    await child.waitFor();
    expect(await child.innerText()).toMatch(
      /on lending\/credit-risk \(assess-credit-risk\) for ada[\s\S]*customer[\s\S]*afford[\s\S]*score/,
    );
    await screenshot(page, '04-task-explanation');
    await page.locator('.depth-0 > p.meta button.link').click();
    await page.getByRole('heading', { name: /Service logs of trace [0-9a-f]{32}/ }).waitFor();
    const logs = await text('table.logs');
    for (const service of [ORCHESTRATOR, 'lending/credit-risk', 'banking/loan-math']) expect(logs).toContain(service);
    await screenshot(page, '05-trace-logs');
  }, 90_000);

  test('a case that needs approval shows the question; the sender may not answer it; an approver answers it in the page and the task resumes', async () => {
    await page.goto(`${url}#/agent/${ORCHESTRATOR}`);
    // Its A2A card, as the registry keeps it, is a download to hand to another A2A framework.
    const a2aLink = page.getByRole('link', { name: 'Download the A2A card (JSON)' });
    const href = (await a2aLink.getAttribute('href'))!;
    const a2aCard = await page.evaluate(
      async (at) => (await fetch(at)).json() as Promise<{ supportedInterfaces: { protocolBinding: string }[] }>,
      href,
    );
    expect(a2aCard.supportedInterfaces.map((i) => i.protocolBinding)).toContain('GRPC');
    await page.getByRole('button', { name: /Use example 2/ }).click();
    await page.getByRole('button', { name: 'Send task' }).click();
    await page.getByRole('heading', { name: 'Waiting for an approval' }).waitFor(WAIT);
    expect(await text('.question')).toMatch(
      /^Approve a loan of 47058\.82 EUR for customer C-1002 \(GB, 4 years of credit history\)\?/,
    );
    expect(await text('#task-state')).toBe('INPUT_REQUIRED');
    expect(await text('.not-yours')).toContain('four eyes');
    await screenshot(page, '06-input-required');
    // Another loan officer who holds the approver role answers it (the Approvals view has its own test).
    const taskUrl = page.url();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn('carol');
    await page.goto(taskUrl);
    await page.getByRole('heading', { name: 'A person is needed' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Send answer' }).click();
    expect(await text('.answer [role=alert]')).toContain('Choose or write an answer first');
    await page.getByLabel('approve').check();
    await page.getByRole('button', { name: 'Send answer' }).click();
    await page.locator('#task-state', { hasText: 'COMPLETED' }).waitFor(WAIT);
    expect(await text('pre[aria-label=result]')).toContain('approved by the reviewer');
    await page.locator('.explanation').first().waitFor(WAIT);
    expect(await text('.plan-graph')).toMatch(/approval\s+SUCCEEDED/);
  }, 90_000);

  test('operations shows every service ready with its calls and an intact audit chain', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Operations' }).click();
    await page.locator('table.ops').waitFor();
    const rows = page.locator('table.ops tbody tr');
    expect(await rows.count()).toBe(mesh.file.services.length);
    expect(await page.locator('table.ops caption').innerText()).toMatch(
      new RegExp(`^${mesh.file.services.length} of ${mesh.file.services.length} services ready · audit chains intact`),
    );
    const orchestrator = await rows.filter({ hasText: ORCHESTRATOR }).innerText();
    expect(orchestrator).toMatch(/ready/);
    expect(orchestrator).toMatch(/completed 2/);
    expect(orchestrator).toMatch(/intact \d+ records/);
    expect(Number(/\t(\d+)\t/.exec(orchestrator)?.[1])).toBeGreaterThan(0);
    // The registry answers many lookups with NOT_FOUND during the demo: answers, not faults.
    const registry = rows.filter({ hasText: 'agentmesh/registry' });
    expect(Number(await registry.locator('td').nth(1).innerText())).toBeGreaterThan(0);
    expect(await registry.locator('td').nth(2).innerText()).toBe('0');
    await screenshot(page, '07-operations');
  }, 60_000);

  test('an auditor without task.write sees the agent’s own refusal, clearly, on a page that keeps working', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await signIn('ben');
    expect(await text('.who')).toContain('scopes: registry.read task.read');
    await page.goto(`${url}#/agent/${ORCHESTRATOR}`);
    await page.getByText('You (ben) have no task.write scope').waitFor();
    await page.getByRole('button', { name: /Use example 1/ }).click();
    await page.getByRole('button', { name: 'Send task' }).click();
    const alert = page.locator('.skill-form [role=alert]');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(
      /Sending the task to lending\/loan-orchestrator was refused: PERMISSION_DENIED\s+token lacks scope task\.write for agentmesh\.v1\.AgentService\/SendTask/,
    );
    expect(await page.getByRole('button', { name: 'Send task' }).isEnabled()).toBe(true);
    expect(page.url()).toMatch(/#\/agent\/lending\/loan-orchestrator$/);
    await screenshot(page, '08-refused');
    // Reading still works for an auditor: the marketplace answers.
    await page.getByRole('navigation').getByRole('link', { name: 'Marketplace' }).click();
    await page.getByRole('heading', { name: /\d+ match/ }).waitFor();
  }, 60_000);

  test('the API refuses bad requests with a clear 4xx and no stack trace; the session cookie and headers are locked down', async () => {
    const ca = readFileSync(mesh.file.ca, 'utf8');
    const call = (path: string, o: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}) =>
      httpRequest(new URL(path, url).toString(), { ca, ...o }).then((a) => ({
        status: a.status,
        headers: a.headers,
        body: a.body.toString(),
      }));
    // A request path exactly as sent, which a URL object would normalise first.
    const raw = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const target = new URL(url);
        const req = httpsRequest({ host: target.hostname, port: target.port, path, ca }, (res) => {
          let body = '';
          res
            .on('data', (d: Buffer) => (body += d.toString()))
            .on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject).end();
      });
    const json = { 'content-type': 'application/json', origin: url.replace(/\/$/, '') };
    const login = await call('/api/session', { method: 'POST', headers: json, body: '{"user":"ada"}' });
    expect(login.status).toBe(200);
    expect(login.headers['set-cookie']).toMatch(
      /^__Host-agentmesh-console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=\d+$/,
    );
    expect(login.headers['content-security-policy']).toContain("script-src 'self'");
    expect(login.headers['content-security-policy']).not.toContain('unsafe-inline');
    const cookie = login.headers['set-cookie']!.split(';')[0]!;
    const { csrf } = JSON.parse(login.body) as { csrf: string };
    const task = `/api/agents/${ORCHESTRATOR}/tasks`;
    const cases: [string, Promise<{ status: number; body: string }>, number, string][] = [
      [
        'another site signs someone in',
        call('/api/session', {
          method: 'POST',
          headers: { ...json, origin: 'https://evil.example' },
          body: '{"user":"ada"}',
        }),
        403,
        'cross-site request refused',
      ],
      [
        'a bad user name',
        call('/api/session', { method: 'POST', headers: json, body: '{"user":"<script>"}' }),
        400,
        'user: letters, digits',
      ],
      ['not JSON', call('/api/session', { method: 'POST', headers: json, body: '{user' }), 400, 'not valid JSON'],
      ['no session', call('/api/discover'), 401, 'sign in first'],
      ['no CSRF token', call(task, { method: 'POST', headers: { ...json, cookie }, body: '{}' }), 403, 'CSRF token'],
      [
        'input that is not an object',
        call(task, { method: 'POST', headers: { ...json, cookie, 'x-csrf-token': csrf }, body: '{"input":[1]}' }),
        400,
        'input: must be a JSON object',
      ],
      [
        'input the skill refuses',
        call(task, {
          method: 'POST',
          headers: { ...json, cookie, 'x-csrf-token': csrf },
          body: '{"skillId":"prequalify-loan","input":{"customerId":"C-1001"}}',
        }),
        400,
        'input/amount: required',
      ],
      [
        'an unknown search field',
        call('/api/discover?colour=red', { headers: { cookie } }),
        400,
        'unknown search field',
      ],
      ['a task of someone else', call(`${task}/no-such-task`, { headers: { cookie } }), 404, 'not found'],
      ['an unknown API', call('/api/nothing', { headers: { cookie } }), 404, 'no such API'],
      ['a path outside the front end', call('/../../etc/passwd'), 404, 'no such page'],
      ['a path the decoder refuses', raw('/%E0'), 400, 'not a valid URL path'],
      ['a path the URL parser refuses', raw('//'), 400, 'not a valid URL path'],
    ];
    for (const [what, answer, status, message] of cases) {
      const a = await answer;
      expect({ what, status: a.status, message: (JSON.parse(a.body) as { message: string }).message }).toEqual({
        what,
        status,
        message: expect.stringContaining(message),
      });
      expect(a.body).not.toMatch(/at .*\.ts:\d+|Error:/);
    }
    // Those requests did not take the console down: the same session still works.
    expect((await call('/api/discover', { headers: { cookie } })).status).toBe(200);
  }, 60_000);

  test('the console can do no more than the person: no token of its own, and a person never gets a scope their roles lack', async () => {
    const secrets = JSON.parse(readFileSync(join(home, 'secrets.json'), 'utf8')) as Record<
      string,
      { client_secret: string }
    >;
    const tokens = new TokenClient({
      tokenUrl: mesh.file.tokenUrl,
      clientId: 'agentmesh/console',
      auth: { method: 'client_secret_basic', secret: secrets['agentmesh/clients/agentmesh/console']!.client_secret },
      ca: readFileSync(mesh.file.ca, 'utf8'),
    });
    await expect(tokens.getToken(ORCHESTRATOR)).rejects.toThrow(
      'unauthorized_client (client may only obtain tokens for people)',
    );
    await expect(tokens.tokenForUser('ben', ORCHESTRATOR, ['task.write'])).rejects.toThrow(
      'invalid_scope (scope not allowed: task.write)',
    );
    // The dev login names people only: not a workload, not the console itself.
    for (const name of ['agentmesh/console', 'agentmesh/cli', 'lending/credit-risk']) {
      await expect(tokens.tokenForUser(name, ORCHESTRATOR)).rejects.toThrow('requested_subject must name a person');
    }
    const ada = JSON.parse(
      Buffer.from((await tokens.tokenForUser('ada', ORCHESTRATOR)).split('.')[1]!, 'base64url').toString(),
    ) as { sub: string; scope: string; act: unknown };
    expect(ada).toMatchObject({
      sub: 'ada',
      scope: 'registry.read task.read task.write',
      act: { sub: 'agentmesh/console' },
    });
  });
});
