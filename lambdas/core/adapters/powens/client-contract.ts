/**
 * What domain code needs from Powens. The HTTP implementation lives in ./client.ts; domain code receives a
 * PowensApi so tests can hand it the real client pointed at the loopback sandbox.
 *
 * Every method throws only the named errors of ../errors.ts (transient: RateLimited, BadGateway,
 * ServiceUnavailable, Timeout; permanent: Unauthenticated, Forbidden, NotFound, Conflict, BadRequest).
 */
import type { PowensAccountsList, PowensConnection } from './types';

/** A Powens user with its permanent user token (a secret: never log it). */
export interface PowensUserCredentials {
  userId: number;
  token: string;
}

export interface SyncResult {
  /** 200: sync ran; 202: the sync stopped for user interaction (SCA, decoupled...). */
  httpStatus: 200 | 202;
  connection: PowensConnection;
}

export interface PowensApi {
  /** GET /users/{id}/connections (follows `_links.next` when present). */
  listConnections(user: PowensUserCredentials): Promise<PowensConnection[]>;
  /** GET /users/{id}/connections/{cid}. */
  getConnection(user: PowensUserCredentials, connectionId: number): Promise<PowensConnection>;
  /**
   * PUT /users/{id}/connections/{cid}?psu_requested=<bool>. A 409 (sync already running) throws ConflictError.
   * Uses the long sync timeout: a forced sync can take minutes.
   * `beforeSend` runs once the request has its rate-budget slot, right before it leaves: what must count only a
   * request actually sent (the PSD2 slot, the execution marker). If it throws, nothing is sent and its error propagates.
   */
  syncConnection(
    user: PowensUserCredentials,
    connectionId: number,
    options: { psuRequested: boolean; beforeSend?: () => Promise<void> },
  ): Promise<SyncResult>;
  /**
   * GET /users/{id}/accounts (or /users/{id}/connections/{cid}/accounts). Powens answers 400 `noAccount` for a
   * user with no account; that is returned as an empty list, not thrown.
   */
  listAccounts(
    user: PowensUserCredentials,
    /** `expandConnection`: each account carries its Connection (`expand=connection`), state included. */
    options?: { connectionId?: number; expandConnection?: boolean },
  ): Promise<PowensAccountsList>;
}
