// The authorization server's client list follows its file: a standalone agent joining the local
// mesh registers itself there and gets tokens without restarting the server.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientDirectory, parseClients, watchClientsFile } from '../services/auth/server/index.js';
import { captureLogger } from './helpers/log-capture.js';

const client = (id: string) => ({ client_id: id, auth: { method: 'client_secret_basic', secret_path: `p/${id}` } });

describe('the clients file is reloaded when it changes', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'agentmesh-clients-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a client added to the file is known without a restart; a broken file changes nothing', async () => {
    const file = join(dir, 'clients.json');
    writeFileSync(file, JSON.stringify([client('agentmesh/cli')]));
    const clients = new ClientDirectory(parseClients([client('agentmesh/cli')]));
    const capture = captureLogger();
    const stop = watchClientsFile(file, clients, capture.log, 10);
    let version = 1;
    const change = (content: string) => {
      writeFileSync(file, content);
      // A distinct modification time per version: the watcher compares them.
      utimesSync(file, new Date(), new Date(Date.now() + version++ * 1_000));
    };
    const logged = async (msg: string, count: number) => {
      while (capture.lines.filter((l) => l.msg === msg).length < count) await new Promise((r) => setTimeout(r, 10));
    };
    try {
      change(JSON.stringify([client('agentmesh/cli'), client('demo/triage')]));
      await logged('clients file reloaded', 1);
      expect(clients.get('demo/triage')?.client_id).toBe('demo/triage');

      change('[{"client_id": ');
      await logged('clients file not reloaded; keeping the current list', 1);
      expect(clients.get('demo/triage')).toBeDefined();

      change(JSON.stringify([client('agentmesh/cli')]));
      await logged('clients file reloaded', 2);
      expect(clients.get('demo/triage')).toBeUndefined();
    } finally {
      stop();
    }
  });
});
