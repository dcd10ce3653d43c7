/**
 * Connection health: what an operator (and the positions view) needs to know about each Powens connection — its
 * state, when Powens last synced it, when it will try again, and whether only the account holder can unblock it.
 * Pure rules here; storage in ../adapters/dynamodb/connection-health.ts.
 */
import { parsePowensDateTime } from '../adapters/powens/datetime';
import type { ConnectionState } from '../adapters/powens/types';
import { connectionNeedsUser } from './positions';

/** "Does this connection need the account holder?" — one rule for health, staleness and GET /connections. */
export { connectionNeedsUser };

/** Why a connection waits for its account holder: the Powens state, `unrecoverable` states included. */
export type NeedsUserReason = string;

export interface ConnectionHealth {
  userId: number;
  connectionId: number;
  /** Powens state (null = last sync succeeded). */
  state: string | null;
  /** Powens' last successful sync, ISO 8601 UTC. */
  lastUpdate: string | null;
  /** Powens' next automatic sync, ISO 8601 UTC. */
  nextTry: string | null;
  /** Only the account holder can unblock it (SCA, webauth, wrong password...) or nothing can (unrecoverable state). */
  needsUser: boolean;
  /** The state that makes it need the user, when it does. */
  needsUserReason?: NeedsUserReason;
  /** Powens will sync it automatically (`active`); absent when unknown (webhook payloads may omit it). */
  active?: boolean;
  /** The connection was deleted at Powens (CONNECTION_DELETED / USER_DELETED). */
  deleted?: true;
  /** When this state was observed (ISO); a write never replaces a newer observation. */
  observedAt: string;
  source: 'workflow' | 'webhook';
}

/** The health record implied by a Powens connection object seen at `observedAt`. */
export function healthFromConnection(
  userId: number,
  connection: {
    id: number;
    state?: ConnectionState | null;
    last_update?: string | null;
    next_try?: string | null;
    active?: boolean;
  },
  observedAt: Date,
  source: ConnectionHealth['source'],
): ConnectionHealth {
  const state = connection.state ?? null;
  const health: ConnectionHealth = {
    userId,
    connectionId: connection.id,
    state,
    lastUpdate: parsePowensDateTime(connection.last_update)?.toISOString() ?? null,
    nextTry: parsePowensDateTime(connection.next_try)?.toISOString() ?? null,
    needsUser: connectionNeedsUser(state),
    observedAt: observedAt.toISOString(),
    source,
  };
  if (health.needsUser && state !== null) health.needsUserReason = state;
  if (typeof connection.active === 'boolean') health.active = connection.active;
  return health;
}
