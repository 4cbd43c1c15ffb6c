import { unwatchFile, watchFile } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Logger } from '../../telemetry/index.js';
import { SecretError, type SecretsProvider } from './provider.js';
import { toSecretFields } from './secret-fields.js';

/** Options for FileSecretsProvider. */
export interface FileSecretsOptions {
  /** How often the file is checked for changes (default 1000 ms). */
  pollIntervalMs?: number;
  /** Receives change and rejected-change events; never a value. */
  logger?: Logger;
}

/** Called with the secret paths whose fields changed (added, removed or edited). */
export type SecretsChangeListener = (changedPaths: string[]) => void;

type SecretsFile = Record<string, unknown>;

/**
 * Reads and checks the secrets file. Its mode is checked on the open handle,
 * so the file judged is the file read. JSON parser messages are not passed
 * on: V8 quotes the offending text, which may be a secret.
 */
async function loadSecretsFile(file: string): Promise<SecretsFile> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SecretError(file, code === 'ENOENT' ? 'secrets file not found' : `secrets file cannot be read (${code})`);
  }
  try {
    const { mode } = await handle.stat();
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      const octal = (mode & 0o777).toString(8);
      throw new SecretError(file, `secrets file is accessible by group or others (mode ${octal}); run chmod 600 on it`);
    }
    const text = await handle.readFile('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
      throw new SecretError(file, `secrets file is not valid JSON${position ? ` (at position ${position})` : ''}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SecretError(file, 'secrets file must hold a JSON object of secrets by path');
    }
    return parsed as SecretsFile;
  } finally {
    await handle.close();
  }
}

/**
 * Secrets from a local JSON file `{ "<path>": { "<field>": "<value>" } }`,
 * for the laptop mesh. The file must be private to its owner (mode 600). It
 * is polled rather than fs.watch'ed: editors and Kubernetes secret volumes
 * replace files by rename, which fs.watch loses track of.
 */
export class FileSecretsProvider implements SecretsProvider {
  readonly kind = 'file';
  private secrets: SecretsFile | undefined;
  private readonly listeners = new Set<SecretsChangeListener>();
  private reloading = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly options: FileSecretsOptions = {},
  ) {}

  /** Loads the file and starts watching it; throws a SecretError when it is missing, unsafe or malformed. */
  async start(): Promise<void> {
    this.secrets = await loadSecretsFile(this.file);
    // Not persistent: watching alone must not keep a process alive.
    watchFile(this.file, { persistent: false, interval: this.options.pollIntervalMs ?? 1_000 }, this.onStat);
  }

  /** The fields of one secret from the last good version of the file. */
  async read(path: string): Promise<Record<string, string>> {
    if (!this.secrets) throw new SecretError(path, 'the file secrets provider is not started');
    if (!Object.hasOwn(this.secrets, path)) throw new SecretError(path, `not found in ${this.file}`);
    return toSecretFields(path, this.secrets[path]);
  }

  /** Subscribes to changes of the file (e.g. a rotated signing key); returns the unsubscribe function. */
  onChange(listener: SecretsChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops watching the file. */
  async close(): Promise<void> {
    unwatchFile(this.file, this.onStat);
    this.listeners.clear();
    await this.reloading;
  }

  private readonly onStat = (): void => {
    // Chained, so two quick edits are applied in order.
    this.reloading = this.reloading.then(() => this.reload());
  };

  private async reload(): Promise<void> {
    let next: SecretsFile;
    try {
      next = await loadSecretsFile(this.file);
    } catch (error) {
      // Mid-write or mis-edited files keep the last good secrets serving.
      const problem = error instanceof SecretError ? error.problem : 'cannot be read';
      this.options.logger?.warn(
        { file: this.file, problem },
        'secrets file change ignored; keeping the previous secrets',
      );
      return;
    }
    const previous = this.secrets ?? {};
    const paths = new Set([...Object.keys(previous), ...Object.keys(next)]);
    const changed = [...paths].filter((path) => JSON.stringify(previous[path]) !== JSON.stringify(next[path]));
    this.secrets = next;
    if (changed.length === 0) return;
    this.options.logger?.info({ file: this.file, changedPaths: changed }, 'secrets file changed');
    for (const listener of this.listeners) {
      try {
        listener(changed);
      } catch (error) {
        this.options.logger?.error({ err: error }, 'secrets change listener failed');
      }
    }
  }
}
