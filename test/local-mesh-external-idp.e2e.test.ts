// The whole demo with people logged in at the enterprise's identity provider: `npm start` pointed at a
// real OpenID provider (oidc-provider over HTTPS) for people, the workloads on the mesh's own issuer.
// ada logs in at the terminal (device grant) and sends the loan that needs an approval; the
// orchestrator acts for her at its specialists with mesh tokens the authorization server exchanged
// for her provider token (on-behalf-of); carol, a loan approver at the provider, approves from her
// inbox; the explanation names both as the provider knows them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Explanation } from '../gen/agentmesh/v1/explain.js';
import { TaskState } from '../gen/agentmesh/v1/task.js';
import { createLocalMeshFiles, type LocalMeshFiles } from './helpers/local-auth.js';
import { startLocalMesh, type LocalMesh } from './helpers/local-mesh.js';
import { startIdp, type TestIdp } from './helpers/oidc-idp.js';
import { deviceLoginClient, loginAtTerminal } from './helpers/people-login.js';

const CLIENT = 'agentmesh-people';
const ORCHESTRATOR = 'lending/loan-orchestrator';

describe('the demo with people logged in at an external OpenID provider', () => {
  let files: LocalMeshFiles;
  let idp: TestIdp;
  let home: string;
  let mesh: LocalMesh;
  let taskId: string;

  /** `agentmesh login`: `person` enters the code it prints at the provider. */
  async function login(person: string) {
    const r = await loginAtTerminal(home, idp, person);
    expect(r).toMatchObject({ code: 0, stderr: '' });
  }

  beforeAll(async () => {
    files = await createLocalMeshFiles([]);
    idp = await startIdp({
      tls: { ...files.issue('agentmesh/idp'), ca: join(files.certs, 'ca.crt') },
      deviceFlow: true,
      clients: [deviceLoginClient(CLIENT)],
      people: { ada: { roles: ['loan-officer'] }, carol: { roles: ['loan-officer', 'loan-approver'] } },
    });
    home = mkdtempSync(join(tmpdir(), 'agentmesh-e2e-idp-'));
    mesh = await startLocalMesh(home, {
      env: {
        AGENTMESH_PEOPLE_ISSUER: idp.issuer,
        AGENTMESH_PEOPLE_CLIENT_ID: CLIENT,
        AGENTMESH_PEOPLE_CA: join(files.certs, 'ca.crt'),
      },
    });
  }, 180_000);

  afterAll(async () => {
    await mesh?.stop();
    await idp?.close();
    files?.cleanup();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('ada, logged in at the provider, sends the loan; the agents act for her; it waits for a loan approver', async () => {
    await login('ada');
    const r = await mesh.cli(['task', ORCHESTRATOR, '--example', '2', '--no-input']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('who may answer: role loan-approver; never ada or the agents acting for them');
    taskId = new RegExp(`npx agentmesh inbox answer ${ORCHESTRATOR} (\\S+) <answer>`).exec(r.stdout)![1]!;
    // ada may not approve her own loan.
    const own = await mesh.cli(['inbox', 'answer', ORCHESTRATOR, taskId, 'approve']);
    expect(own.code).not.toBe(0);
    expect(own.stderr).toContain('ada');
  }, 180_000);

  test('carol logs in at the provider, finds it in her inbox and approves; the task completes', async () => {
    expect((await mesh.cli(['logout'])).code).toBe(0);
    await login('carol');
    const inbox = await mesh.cli(['inbox']);
    expect(inbox).toMatchObject({ code: 0, stderr: '' });
    expect(inbox.stdout).toContain(`${ORCHESTRATOR}  ${taskId}  step approval (approval, 0 of 1 approval)  for ada`);
    const answered = await mesh.cli(['inbox', 'answer', ORCHESTRATOR, taskId, 'approve']);
    expect(answered.stderr).toBe('');
    expect(answered.code).toBe(0);
    expect(answered.stdout).toMatch(/carol answered approve as loan-approver/);

    // The explanation, as ada reads it (carol, an approver, sees the top level only): ada's task, done;
    // her specialists' tasks were hers too (the agents acted for her).
    expect((await mesh.cli(['logout'])).code).toBe(0);
    await login('ada');
    const told = await mesh.cli(['explain', taskId, '--json']);
    expect(told).toMatchObject({ code: 0 });
    const e = Explanation.fromJSON(JSON.parse(told.stdout));
    expect(e.task?.subject).toBe('ada');
    expect(e.task?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const children = e.children.map((c) => (c.result?.$case === 'explanation' ? c.result.explanation.task : undefined));
    expect(children.map((t) => t?.agent).sort()).toEqual(['lending/compliance', 'lending/credit-risk']);
    for (const child of children) expect(child?.subject).toBe('ada');
  }, 180_000);
});
