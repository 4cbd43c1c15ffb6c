// The dev certificate authority of the local mesh.
//   npm run certs -- init  [--trust-domain agentmesh.local] [--days 30] [--out certs/out] [--force]
//   npm run certs -- issue <namespace>/<service> [--hours 12] [--dns NAME]... [--ip ADDR]... [--out certs/out]
// Keys are written with mode 600 under certs/out/, which git ignores.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCa, issueWorkloadCert, loadCa } from '../mesh/security/dev-ca.js';
import { spiffeIdOfService } from '../mesh/security/spiffe-id.js';

function fail(message: string): never {
  process.stderr.write(`certs: ${message}\n`);
  process.exit(2);
}

function writeSecret(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number (got ${value})`);
  return n;
}

const [command, ...rest] = process.argv.slice(2);
let parsed;
try {
  parsed = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      out: { type: 'string', default: 'certs/out' },
      'trust-domain': { type: 'string', default: 'agentmesh.local' },
      days: { type: 'string' },
      hours: { type: 'string' },
      dns: { type: 'string', multiple: true },
      ip: { type: 'string', multiple: true },
      force: { type: 'boolean', default: false },
    },
  });
} catch (err) {
  fail((err as Error).message.split('\n')[0]!);
}
const { values, positionals } = parsed;
const out = values.out;
const caCert = join(out, 'ca.crt');
const caKey = join(out, 'ca.key');

if (command === 'init') {
  if (existsSync(caCert) && !values.force)
    fail(`${caCert} exists; pass --force to replace the CA (every issued certificate stops being trusted)`);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const ca = await createCa(values['trust-domain'], positive(values.days, 'days', 30));
  writeFileSync(caCert, ca.certPem);
  writeSecret(caKey, ca.keyPem);
  writeFileSync(join(out, 'trust-domain'), `${values['trust-domain']}\n`);
  process.stdout.write(`created CA for trust domain ${values['trust-domain']}: ${caCert}\n`);
} else if (command === 'issue') {
  const service = positionals[0] ?? fail('issue needs a service name: npm run certs -- issue <namespace>/<service>');
  if (!existsSync(caKey)) fail(`no CA in ${out}: run \`npm run certs -- init\` first`);
  const trustDomain = readFileSync(join(out, 'trust-domain'), 'utf8').trim();
  let id: string;
  try {
    id = spiffeIdOfService(trustDomain, service);
  } catch (err) {
    fail((err as Error).message);
  }
  const ca = await loadCa(readFileSync(caCert, 'utf8'), readFileSync(caKey, 'utf8'));
  const hours = positive(values.hours, 'hours', 12);
  const pair = await issueWorkloadCert(ca, {
    spiffeId: id,
    commonName: service,
    hours,
    dnsNames: values.dns,
    ipAddresses: values.ip,
  });
  const [namespace, name] = service.split('/') as [string, string];
  const dir = join(out, namespace);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, `${name}.crt`), pair.cert);
  writeSecret(join(dir, `${name}.key`), pair.key);
  process.stdout.write(`issued ${id} for ${hours} h: ${join(dir, `${name}.crt`)}\n`);
} else {
  fail(
    'usage: npm run certs -- init [--trust-domain TD] [--days N] | issue <namespace>/<service> [--hours N] [--dns NAME] [--ip ADDR]',
  );
}
