/**
 * The status codes of agentmesh: gRPC's own, with the same numbers, so a
 * code travels unchanged to any gRPC client (grpcurl, buf SDKs, Python).
 * Each member says when this framework uses it.
 */
export enum Code {
  /** Not an error: the call succeeded. */
  OK = 0,
  /** The caller cancelled the call (or its connection went away). */
  CANCELLED = 1,
  /** An error with no better code; prefer a specific one. */
  UNKNOWN = 2,
  /** The request itself is wrong (missing field, bad pattern, schema violation), whatever the state. */
  INVALID_ARGUMENT = 3,
  /** The deadline passed before the work finished; it may have happened anyway. */
  DEADLINE_EXCEEDED = 4,
  /** No such task, agent, tool or entry — also what a caller sees of what it may not know exists. */
  NOT_FOUND = 5,
  /** The thing to create exists already (same name and version, same request id with other input). */
  ALREADY_EXISTS = 6,
  /** The caller is known but may not do this (policy, scope, segregation of duties). */
  PERMISSION_DENIED = 7,
  /** A limit was reached (page size, pattern length, concurrency, quota); retry later or ask for less. */
  RESOURCE_EXHAUSTED = 8,
  /** The system is not in a state to do this (task already terminal, schema newer than the code). */
  FAILED_PRECONDITION = 9,
  /** A concurrent change won (compare-and-set version conflict, lost lease): re-read and retry. */
  ABORTED = 10,
  /** A value is outside its valid range (a revision or page token past the end). */
  OUT_OF_RANGE = 11,
  /** The method is not served here. */
  UNIMPLEMENTED = 12,
  /** A fault of the server itself; the detail is logged, never sent. */
  INTERNAL = 13,
  /** The service cannot be reached or is shutting down; safe to retry idempotent calls. */
  UNAVAILABLE = 14,
  /** Data was lost or corrupted (a broken audit chain, an unreadable record). */
  DATA_LOSS = 15,
  /** No valid credentials: missing, expired or forged token or certificate. */
  UNAUTHENTICATED = 16,
}
