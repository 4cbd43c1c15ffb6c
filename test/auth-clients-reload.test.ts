// The authorization server's client list follows its file: a standalone agent joining the local
// mesh registers itself there and gets tokens without restarting the server.
import { mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientDirectory, loadClientsFile, parseClients, watchClientsFile } from '../services/auth/server/index.js';
import { captureLogger } from './helpers/log-capture.js';

const client = (id: string) => ({ client_id: id, auth: { method: 'client_secret_basic', secret_path: `p/${id}` } });
const list = (...ids: string[]) => JSON.stringify(ids.map(client));

// Polls the directory until the condition holds: the watcher's effect is the event waited for.
const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
};

describe('the clients file is reloaded when it changes', () => {
  let dir: string;
  let file: string;
  let stamp: Date;
  let count = 0;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'agentmesh-clients-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    file = join(dir, `clients-${++count}.json`);
    stamp = new Date(Date.now() - 60_000);
  });

  // Atomic replacement (temp + rename) as writers do it, all with the same modification time.
  const replace = (content: string) => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, content);
    utimesSync(tmp, stamp, stamp);
    renameSync(tmp, file);
  };

  test('a client added is known without a restart; a broken file changes nothing', async () => {
    writeFileSync(file, list('agentmesh/cli'));
    const clients = new ClientDirectory(parseClients([client('agentmesh/cli')]));
    const capture = captureLogger();
    const stop = watchClientsFile(file, clients, capture.log, 10);
    try {
      replace(list('agentmesh/cli', 'demo/triage'));
      await until(() => clients.get('demo/triage') !== undefined);

      replace('[{"client_id": ');
      await until(() => capture.lines.some((l) => l.msg === 'clients file not reloaded; keeping the current list'));
      expect(clients.get('demo/triage')).toBeDefined();

      replace(list('agentmesh/cli'));
      await until(() => clients.get('demo/triage') === undefined);
      expect(clients.get('agentmesh/cli')).toBeDefined();
    } finally {
      stop();
    }
  });

  test('two replacements of the same size and modification time both take effect', async () => {
    writeFileSync(file, list('agentmesh/cli'));
    const capture = captureLogger();
    const { clients, stop } = loadClientsFile(file, capture.log, 10);
    try {
      replace(list('agentmesh/cli', 'demo/aaaaaa'));
      await until(() => clients.get('demo/aaaaaa') !== undefined);
      const first = statSync(file);
      replace(list('agentmesh/cli', 'demo/bbbbbb'));
      const second = statSync(file);
      expect([second.mtimeMs, second.size]).toEqual([first.mtimeMs, first.size]);
      await until(() => clients.get('demo/bbbbbb') !== undefined);
      expect(clients.get('demo/aaaaaa')).toBeUndefined();
    } finally {
      stop();
    }
  });

  test('a partial write followed by the final one with the same time takes the final one', async () => {
    writeFileSync(file, list('agentmesh/cli'));
    utimesSync(file, stamp, stamp);
    const capture = captureLogger();
    const { clients, stop } = loadClientsFile(file, capture.log, 10);
    try {
      // In place, as a non-atomic writer would: first half the text, then all of it.
      const full = list('agentmesh/cli', 'demo/triage');
      writeFileSync(file, full.slice(0, full.length / 2));
      utimesSync(file, stamp, stamp);
      await until(() => capture.lines.some((l) => l.msg === 'clients file not reloaded; keeping the current list'));
      writeFileSync(file, full);
      utimesSync(file, stamp, stamp);
      await until(() => clients.get('demo/triage') !== undefined);
    } finally {
      stop();
    }
  });

  test('a change made right after the initial read, before any check, is loaded', async () => {
    writeFileSync(file, list('agentmesh/cli'));
    utimesSync(file, stamp, stamp);
    const capture = captureLogger();
    const { clients, stop } = loadClientsFile(file, capture.log, 10);
    try {
      expect(clients.get('agentmesh/cli')).toBeDefined();
      replace(list('agentmesh/cli', 'demo/early'));
      await until(() => clients.get('demo/early') !== undefined);
    } finally {
      stop();
    }
  });
});
