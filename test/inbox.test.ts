// `agentmesh inbox` across two agents, as the people of the demo use it: real processes (the
// authorization server with the demo's users.json, the registry, two agents), real tokens for
// each person, and the CLI run as its bundle. ada sends, ada is refused (four eyes), carol (a
// loan approver) finds both tasks in her inbox and approves one, ben the auditor explains it.
import { join } from 'node:path';
import { startTestMesh, type TestMesh } from '../mesh/testing/index.js';
import { ROOT, runCommand } from './helpers/processes.js';

const A = 'demo/approvals-a';
const B = 'demo/approvals-b';

describe('agentmesh inbox: what waits for me across the agents of the mesh', () => {
  let mesh: TestMesh;
  const sent: Record<string, string> = {};
  const cli = (user: string, args: string[]) =>
    runCommand(process.execPath, [join(ROOT, 'devtools/cli/bin.mjs'), '--user', user, ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', AGENTMESH_HOME: mesh.home },
      timeout: 60_000,
    });

  beforeAll(async () => {
    mesh = await startTestMesh({
      agents: [A, B],
      env: { AGENTMESH_AUTH_USERS_FILE: join(ROOT, 'services', 'auth', 'users.json') },
    });
    await Promise.all([A, B].map((name) => mesh.startAgent(join(ROOT, 'test/fixtures/inbox-agent.ts'), { name })));
  }, 120_000);

  afterAll(() => mesh?.stop());

  test('ada sends a payment to each agent; each waits for a loan approver who is not ada', async () => {
    for (const [agent, amount] of [
      [A, 100],
      [B, 200],
    ] as const) {
      const r = await cli('ada', ['task', agent, JSON.stringify({ amount }), '--no-input']);
      expect(r).toMatchObject({ code: 3, stderr: '' });
      expect(r.stdout).toContain(`waits for a person: Approve a payment of ${amount} EUR? (approve / decline)`);
      expect(r.stdout).toContain(
        'who may answer: role loan-approver; never ada or the agents acting for them (four eyes)',
      );
      sent[agent] = new RegExp(`npx agentmesh inbox answer ${agent} (\\S+) <answer>`).exec(r.stdout)![1]!;
    }
  }, 60_000);

  test("carol's inbox lists both tasks; ada's lists neither (she may not approve her own)", async () => {
    const carol = await cli('carol', ['inbox']);
    expect(carol).toMatchObject({ code: 0, stderr: '' });
    expect(carol.stdout).toMatch(/^2 tasks wait for carol:\n/);
    for (const [agent, id] of Object.entries(sent)) {
      expect(carol.stdout).toContain(`${agent}  ${id}  step approval (approval, 0 of 1 approval)  for ada  deadline `);
    }
    expect(carol.stdout).toContain('    Approve a payment of 100 EUR? [approve / decline]');
    const json = await cli('carol', ['inbox', '--json']);
    const items = JSON.parse(json.stdout) as { agent: string; task: { id: string } }[];
    expect(items.map((i) => [i.agent, i.task.id]).sort()).toEqual(Object.entries(sent).sort());

    const ada = await cli('ada', ['inbox']);
    expect(ada).toMatchObject({ code: 0, stdout: 'nothing waits for ada\n', stderr: '' });
  }, 60_000);

  test('inbox show gives carol the question, who may answer, the approvals so far, the deadline and the evidence', async () => {
    const r = await cli('carol', ['inbox', 'show', A, sent[A]!]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      `task ${sent[A]} on ${A}: INPUT_REQUIRED  for ada  step approval`,
      'question: Approve a payment of 100 EUR?',
      'choices: approve / decline',
      'who may answer: role loan-approver; never ada or the agents acting for them (four eyes)',
      'approvals so far: 0 of 1 approval',
      expect.stringMatching(/^deadline: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \d+ min\)$/),
    ]);
    expect(r.stdout).toContain('evidence (the explanation so far):\n');
    expect(r.stdout).toContain(`  - approval: human approval (role loan-approver)  `);
    expect(r.stdout).toContain(`answer with: agentmesh inbox answer ${A} ${sent[A]} <answer>`);
  }, 60_000);

  test('every refused answer is one line naming the reason: four eyes, not an approver, not a choice', async () => {
    const own = await cli('ada', ['inbox', 'answer', A, sent[A]!, 'approve']);
    expect(own.code).toBe(1);
    expect(own.stdout).toBe('');
    expect(own.stderr.trim().split('\n')).toHaveLength(1);
    expect(own.stderr).toMatch(
      new RegExp(
        `^agentmesh: ${A} refused the answer to step approval of task ${sent[A]}: .*four eyes.* \\(PERMISSION_DENIED\\)\\n$`,
      ),
    );
    // ben is an auditor: he reads every task and changes nothing.
    const auditor = await cli('ben', ['inbox', 'answer', A, sent[A]!, 'approve']);
    expect(auditor).toMatchObject({ code: 1, stdout: '' });
    expect(auditor.stderr).toMatch(/^agentmesh: .*\(PERMISSION_DENIED\)\n$/);
    const notOffered = await cli('carol', ['inbox', 'answer', A, sent[A]!, 'perhaps']);
    expect(notOffered).toMatchObject({ code: 1, stdout: '' });
    expect(notOffered.stderr).toMatch(/^agentmesh: .*approve, decline.*\(INVALID_ARGUMENT\)\n$/);
    const usage = await cli('carol', ['inbox', 'answer', A]);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining('inbox answer needs an agent, a task id') });
  }, 60_000);

  test('carol approves: the task completes, her answer is recorded with her role, and it leaves her inbox', async () => {
    const r = await cli('carol', ['inbox', 'answer', A, sent[A]!, 'approve']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(
      new RegExp(
        `^answered approval of task ${sent[A]}: carol answered approve as loan-approver at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ`,
      ),
    );
    expect(r.stdout).toContain('result: "approve"');
    // A second answer finds the step settled.
    const again = await cli('carol', ['inbox', 'answer', A, sent[A]!, 'approve']);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('waits for no answer (it is COMPLETED)') });
    const left = await cli('carol', ['inbox']);
    expect(left).toMatchObject({ code: 0, stdout: expect.stringMatching(/^1 task waits for carol:\n/) });
    expect(left.stdout).toContain(sent[B]);
    expect(left.stdout).not.toContain(sent[A]);
  }, 60_000);

  test('ben the auditor explains the task: who approved, with which role, and when', async () => {
    const r = await cli('ben', ['explain', sent[A]!, '--agent', A]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`task ${sent[A]} on ${A} (pay): COMPLETED  subject ada`);
    expect(r.stdout).toMatch(/ {6}carol answered approve as loan-approver at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    // The auditor's inbox is empty: he answers nothing.
    expect(await cli('ben', ['inbox'])).toMatchObject({ code: 0, stdout: 'nothing waits for ben\n' });
  }, 60_000);

  test('an agent that does not answer is a one-line warning, not a failure of the inbox', async () => {
    const b = mesh.processes.find((p) => p.spec.name === B)!;
    b.child.kill('SIGKILL');
    await b.exited;
    // B is still registered (its heartbeat has not lapsed), but nothing answers at its address.
    const r = await cli('carol', ['inbox']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^agentmesh: warning: ${B}: .+\\n$`));
    expect(r.stdout).toBe('nothing waits for carol on the agents that answered\n');
  }, 60_000);
});
