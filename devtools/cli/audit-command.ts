import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditFile } from '../../mesh/index.js';
import { out, parse } from './args.js';
import { CliError } from './cli-error.js';
import { currentUser, MeshConnection } from './connection.js';

/** `agentmesh audit verify`: checks the hash chain of every service's audit trail. */
export function audit(args: string[]): number {
  const { values, positionals } = parse('audit', args, { json: { type: 'boolean' } });
  if (positionals[0] !== 'verify') throw new CliError('usage: agentmesh audit verify', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const results = conn.file.services.map((s) => {
      const file = join(conn.home, 'data', s.name.replace('/', '-'), 'audit.jsonl');
      return {
        service: s.name,
        file,
        ...(existsSync(file) ? verifyAuditFile(file) : { ok: true, records: 0, absent: true }),
      };
    });
    if (values.json) out(JSON.stringify(results));
    else
      for (const r of results)
        out(
          `${r.ok ? 'ok    ' : 'BROKEN'}  ${r.service}: ${'absent' in r ? 'no audit trail' : `${r.records} records`}${'firstBad' in r && r.firstBad ? `; first bad record at line ${r.firstBad.line}: ${r.firstBad.problem}` : ''}`,
        );
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    conn.close();
  }
}
