// The console's Approvals view in a real browser (Debian's headless Chromium through playwright-core) against the
// whole local mesh started the way `npm start` starts it. The demo's four-eyes story: ada sends a loan that needs
// approval and may not approve it; ben the auditor reads it and may not answer; carol (loan-approver) finds it in
// her Approvals, reads the evidence and approves; the task view shows who approved, with which role and when.
// One mesh and one browser serve the whole story; each test continues where the previous one left off.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { launchChromium, screenshot, spkiPin } from './helpers/browser.js';
import { startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';

const ORCHESTRATOR = 'lending/loan-orchestrator';
const WAIT = { timeout: 60_000 };
const QUESTION = /Approve a loan of 47058\.82 EUR for customer C-1002/;

/** The process listening on a local address (the mesh file names addresses, not processes). */
function pidListeningOn(address: string): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${address.split(':').pop()}`]).toString();
  const pid = Number(/pid=(\d+)/.exec(out)?.[1]);
  if (!pid) throw new Error(`no process listens on ${address}: ${out}`);
  return pid;
}

/** A 4xx answer of the API is a refusal the page shows, not a fault of the page (see console.browser.test.ts). */
const answeredRefusal = (m: ConsoleMessage) =>
  /^Failed to load resource: the server responded with a status of 4\d\d\b/.test(m.text()) &&
  new URL(m.location().url).pathname.startsWith('/api/');

describe('the console’s Approvals view: four eyes, an auditor who reads only, an approver who answers', () => {
  let home: string;
  let mesh: LocalMesh;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  let taskId = '';
  const pageProblems: string[] = [];

  const watch = (p: Page) => {
    p.setDefaultTimeout(30_000);
    p.on('console', (m) => {
      if (m.type() === 'error' && !answeredRefusal(m)) pageProblems.push(`console error: ${m.text()}`);
    });
    p.on('pageerror', (err) => pageProblems.push(`uncaught: ${err.message}`));
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'agentmesh-console-approvals-'));
    mesh = await startLocalMesh(home);
    url = mesh.file.console!;
    browser = await launchChromium([spkiPin(join(home, 'certs', 'agentmesh', 'console.crt'))]);
    context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await context.newPage();
    watch(page);
  }, 150_000);

  afterEach(() => {
    expect(pageProblems.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await mesh?.stop();
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  const text = (selector: string, p = page) => p.locator(selector).first().innerText();
  const signInAs = async (user: string) => {
    await page.goto(url);
    // The page renders once it knows the session: wait for either view, not for a moment to pass.
    const signOut = page.getByRole('button', { name: 'Sign out' });
    const userName = page.getByLabel('User name');
    await signOut.or(userName).first().waitFor();
    if (await signOut.isVisible()) await signOut.click();
    await userName.fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signed-in-user', { hasText: user }).waitFor();
  };
  const openApprovals = async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Approvals' }).click();
    await page.getByRole('heading', { name: /waiting for you \(\d+ agents? asked\)/ }).waitFor(WAIT);
  };
  /** Answers through the console's API from the page, as a person who skips the page's own checks would. */
  const answerThroughApi = (answer: string) =>
    page.evaluate(
      async ([path, a]) => {
        const { csrf } = (await (await fetch('/api/session')).json()) as { csrf: string };
        const res = await fetch(path!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
          body: JSON.stringify({ stepId: 'approval', answer: a }),
        });
        return { status: res.status, body: (await res.json()) as { code: string; message: string } };
      },
      [`/api/agents/${ORCHESTRATOR}/tasks/${encodeURIComponent(taskId)}/input`, answer],
    );

  test('ada sends a loan that needs approval: her task waits for a loan-approver and offers her no answer (four eyes)', async () => {
    await signInAs('ada');
    expect(await text('.who')).toContain('roles: loan-officer');
    await page.goto(`${url}#/agent/${ORCHESTRATOR}`);
    await page.getByRole('button', { name: /Use example 2/ }).click();
    await page.getByRole('button', { name: 'Send task' }).click();
    await page.waitForURL(/#\/task\/lending\/loan-orchestrator\//);
    taskId = decodeURIComponent(page.url().split('/').pop()!);
    await page.getByRole('heading', { name: 'Waiting for an approval' }).waitFor(WAIT);
    expect(await text('#task-state')).toBe('INPUT_REQUIRED');
    expect(await text('.question')).toMatch(QUESTION);
    expect(await text('.approval-meta')).toMatch(
      /Who may answer: a person with role loan-approver, not the sender · approvals 0 of 1 · deadline \S+/,
    );
    expect(await text('.not-yours')).toBe(
      'You cannot answer this step. You sent this task: another person must approve it (four eyes).',
    );
    expect(await page.getByRole('button', { name: 'Send answer' }).count()).toBe(0);
    await screenshot(page, 'approvals-01-ada-waits');

    await openApprovals();
    expect(await page.locator('.approvals-list').count()).toBe(0);
    expect(await text('.empty')).toBe('Nothing waits for you.');
    await page.goto(`${url}#/approvals/${ORCHESTRATOR}/${encodeURIComponent(taskId)}`);
    await page.locator('.not-yours').waitFor(WAIT);
    expect(await text('.not-yours')).toContain('four eyes');
    expect(await page.getByRole('button', { name: 'approve' }).count()).toBe(0);
    // The agent refuses her too, whatever the page offers, and says why.
    const refused = await answerThroughApi('approve');
    expect(refused).toEqual({
      status: 403,
      body: { code: 'PERMISSION_DENIED', message: expect.stringContaining('four eyes') },
    });
  }, 120_000);

  test('ben the auditor reads the waiting task and its evidence, is offered no answer, and is refused one', async () => {
    await signInAs('ben');
    expect(await text('.who')).toContain('roles: auditor');
    await openApprovals();
    expect(await text('.empty')).toBe('Nothing waits for you.');
    await page.goto(`${url}#/task/${ORCHESTRATOR}/${encodeURIComponent(taskId)}`);
    await page.getByRole('heading', { name: 'Waiting for an approval' }).waitFor(WAIT);
    expect(await text('.question')).toMatch(QUESTION);
    expect(await text('.not-yours')).toBe(
      'You cannot answer this step. Only a person with role loan-approver may answer; you hold role auditor.',
    );
    await page.goto(`${url}#/approvals/${ORCHESTRATOR}/${encodeURIComponent(taskId)}`);
    await page.locator('.explanation').first().waitFor(WAIT);
    expect(await text('.plan-graph')).toMatch(/risk\s+SUCCEEDED[\s\S]*approval\s+/);
    expect(await page.getByRole('button', { name: 'approve' }).count()).toBe(0);
    const refused = await answerThroughApi('approve');
    expect(refused).toEqual({
      status: 403,
      // The auditor's token lacks task.write, so the agent's policy refuses before the runtime would.
      body: {
        code: 'PERMISSION_DENIED',
        message: expect.stringMatching(/token lacks scope task\.write|auditors read and change nothing/),
      },
    });
    await screenshot(page, 'approvals-02-auditor');
  }, 90_000);

  test('carol finds it in her Approvals with the question and evidence, approves it, and a second answer is refused', async () => {
    await signInAs('carol');
    expect(await text('.who')).toMatch(/roles: loan-officer loan-approver/);
    await openApprovals();
    const row = page.locator('.approvals-list tbody tr').filter({ hasText: taskId });
    expect(await row.count()).toBe(1);
    const cells = await row.locator('td').allInnerTexts();
    expect(cells[0]).toBe(ORCHESTRATOR);
    expect(cells[1]).toBe(`${taskId} (approval)`);
    expect(cells[2]).toMatch(QUESTION);
    expect(cells[3]).toBe('a person with role loan-approver, not the sender');
    expect(cells[4]).toBe('0 of 1');
    expect(cells[5]).toMatch(/\d/);
    expect(cells[6]).toBe('ada');
    await screenshot(page, 'approvals-03-list');

    await row.getByRole('link', { name: taskId }).click();
    await page.getByRole('heading', { name: QUESTION }).waitFor(WAIT);
    expect(await text('.approval-facts')).toMatch(
      /Sent by\s+ada[\s\S]*Who may answer\s+a person with role loan-approver/,
    );
    await page.locator('.explanation').first().waitFor(WAIT);
    expect(await text('.plan-graph')).toMatch(/risk\s+SUCCEEDED[\s\S]*compliance\s+SUCCEEDED/);
    // The same approval open in a second tab: whoever answers second is refused, with the reason.
    const second = await context.newPage();
    watch(second);
    await second.goto(page.url());
    await second.getByRole('button', { name: 'approve', exact: true }).waitFor(WAIT);
    await screenshot(page, 'approvals-04-detail');

    await page.getByRole('button', { name: 'approve', exact: true }).click();
    await page.locator('.answered').waitFor(WAIT);
    expect(await text('.answered')).toMatch(/^You approved as carol\. The task is (WORKING|COMPLETED)\./);
    await second.getByRole('button', { name: 'approve', exact: true }).click();
    const refusal = second.locator('.approval-answer [role=alert]');
    await refusal.waitFor(WAIT);
    expect(await refusal.innerText()).toMatch(/Your answer was refused: FAILED_PRECONDITION/);
    await second.close();

    await page.getByRole('link', { name: 'Follow the task' }).click();
    await page.locator('#task-state', { hasText: 'COMPLETED' }).waitFor(WAIT);
    await page.getByRole('heading', { name: 'Answers' }).waitFor(WAIT);
    expect(await text('.answers')).toMatch(/approval: approved by carol \(loan-approver\) at \S.*\d{1,2}:\d{2}/);
    expect(await page.locator('.answers time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    await page.locator('.explanation').first().waitFor(WAIT);
    const approvalStep = page
      .locator('.depth-0 > .steps > .step')
      .filter({ has: page.locator('summary strong', { hasText: /^approval$/ }) });
    expect(await approvalStep.locator('summary').first().innerText()).toMatch(
      /approval — approval by a person with role loan-approver\s+SUCCEEDED.*approved by carol \(loan-approver\)/,
    );
    await screenshot(page, 'approvals-05-approved');
    await openApprovals();
    expect(await page.locator('.approvals-list tbody tr').filter({ hasText: taskId }).count()).toBe(0);
  }, 120_000);

  test('the auditor reads who approved the finished task', async () => {
    await signInAs('ben');
    await page.goto(`${url}#/task/${ORCHESTRATOR}/${encodeURIComponent(taskId)}`);
    await page.locator('#task-state', { hasText: 'COMPLETED' }).waitFor(WAIT);
    await page.getByRole('heading', { name: 'Answers' }).waitFor(WAIT);
    expect(await text('.answers')).toMatch(/approved by carol \(loan-approver\)/);
  }, 60_000);

  test('the API answers what waits for a person as JSON, and refuses an agent name it cannot be', async () => {
    await signInAs('carol');
    const answer = await page.evaluate(async () => {
      const all = await fetch('/api/approvals');
      const bad = await fetch('/api/approvals?agent=..%2Fx');
      return { status: all.status, body: (await all.json()) as unknown, bad: bad.status };
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ tasks: [], warnings: [] });
    expect((answer.body as { agents: number }).agents).toBeGreaterThan(1);
    expect(answer.bad).toBe(400);
  }, 60_000);

  test('an agent that does not answer is named with its reason; the other agents’ approvals still show, and one declines', async () => {
    await signInAs('ada');
    await page.goto(`${url}#/agent/${ORCHESTRATOR}`);
    await page.getByRole('button', { name: /Use example 2/ }).click();
    await page.getByRole('button', { name: 'Send task' }).click();
    await page.getByRole('heading', { name: 'Waiting for an approval' }).waitFor(WAIT);
    const waiting = decodeURIComponent(page.url().split('/').pop()!);
    await signInAs('carol');
    // A hung agent: its socket accepts, it never answers, so the console's call meets its deadline.
    const compliance = pidListeningOn(mesh.file.services.find((s) => s.name === 'lending/compliance')!.address);
    process.kill(compliance, 'SIGSTOP');
    try {
      await openApprovals();
    } finally {
      process.kill(compliance, 'SIGCONT');
    }
    expect(await text('.agent-warning')).toMatch(
      /^lending\/compliance could not be asked: (DEADLINE_EXCEEDED|UNAVAILABLE)\n/,
    );
    const row = page.locator('.approvals-list tbody tr').filter({ hasText: waiting });
    expect(await row.count()).toBe(1);
    await screenshot(page, 'approvals-06-warning');
    await row.getByRole('link', { name: waiting }).click();
    await page.getByRole('button', { name: 'decline', exact: true }).click();
    await page.locator('.answered').waitFor(WAIT);
    expect(await text('.answered')).toMatch(/^You declined as carol\. The task is /);
    await page.getByRole('link', { name: 'Follow the task' }).click();
    await page.getByRole('heading', { name: 'Answers' }).waitFor(WAIT);
    expect(await text('.answers')).toMatch(/approval: declined by carol \(loan-approver\) at /);
  }, 120_000);
});
