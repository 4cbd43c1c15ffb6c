import { Code, isMeshError, MeshError } from '../core/index.js';

// PostgreSQL SQLSTATE classes and codes (Appendix A of the PostgreSQL manual).
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);
const PG_RETRY = new Set(['40001', '40P01']);
const NODE_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
// pg reports a dropped or unobtainable connection with messages, not codes.
const PG_LOST =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i;

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when the database could not be reached at all, so retrying later is the right reaction. */
export function isConnectionError(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined && (PG_UNAVAILABLE.has(code) || NODE_UNAVAILABLE.has(code))) return true;
  return err instanceof Error && PG_LOST.test(err.message);
}

/** True for a unique or primary key violation on either backend. */
export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Turns a driver error into the mesh's one error type. Callers see a status code they can
 * act on (UNAVAILABLE and ABORTED are retryable); the driver's message, which may quote
 * data, stays in `cause` for the log.
 */
export function toMeshError(err: unknown): MeshError {
  if (isMeshError(err)) return err;
  const code = codeOf(err) ?? '';
  if (isConnectionError(err) || code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new MeshError(Code.UNAVAILABLE, 'state store unavailable', { cause: err });
  }
  if (PG_RETRY.has(code)) return new MeshError(Code.ABORTED, 'state store conflict, retry', { cause: err });
  if (code === '57014') return new MeshError(Code.DEADLINE_EXCEEDED, 'state store statement timed out', { cause: err });
  if (isUniqueViolation(err)) return new MeshError(Code.ALREADY_EXISTS, 'record already exists', { cause: err });
  if (code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new MeshError(Code.NOT_FOUND, 'the record this refers to does not exist', { cause: err });
  }
  if (code === 'SQLITE_FULL' || code === '53100') {
    return new MeshError(Code.RESOURCE_EXHAUSTED, 'state store is out of disk space', { cause: err });
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'XX001' || code === 'XX002') {
    return new MeshError(Code.DATA_LOSS, 'state store is corrupt', { cause: err });
  }
  return new MeshError(Code.INTERNAL, 'internal error', { cause: err });
}
