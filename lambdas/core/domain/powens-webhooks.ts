/**
 * Powens webhook receiver (push): Powens syncs every connection about once a day by itself and POSTs the result, so
 * most fresh balances arrive here without any forced sync.
 *
 * Route: `POST /webhooks/powens/{event}`, one URL per event as registered in the Powens console, for
 * CONNECTION_SYNCED, ACCOUNT_DISABLED, CONNECTION_DELETED and USER_DELETED. Order of checks, each answering before
 * anything is written:
 *   unknown event → 404 · body too large → 413 · missing signature headers, date further than 5 minutes from our
 *   clock, no webhook secret configured, or a signature that does not match → 401 · undecodable gzip, invalid JSON,
 *   malformed payload → 400 · a CONNECTION_SYNCED for a user this tenant does not serve (no active registry item, not
 *   in the secret's list) → 202 `ignored`; deletions for such a user only touch what is stored.
 * Then the delivery is deduplicated on `id_webhook_data` (a redelivery of a finished one → 200 `duplicate`) and
 * processed:
 * - CONNECTION_SYNCED: accounts mapped exactly as fetch-balances maps them, stored through the same store (history by
 *   deterministic key, latest only moving forward: whichever of webhook and workflow comes last, latest never
 *   regresses); connection health recorded; each record carries the connection state, so the balances of a
 *   connection that needs the account holder are served as stale (positions.ts);
 *   a successful sync counted against the PSD2 budget (observeSync: Powens' own sync is a bank access too).
 * - ACCOUNT_DISABLED / CONNECTION_DELETED / USER_DELETED: the latest balances concerned are excluded from positions
 *   (marked, never deleted; history is kept) and deleted connections are recorded in connection health.
 * A storage failure answers 503 so Powens delivers again (every write is idempotent or monotonic).
 *
 * The signature covers the body as sent. With Powens' compression option (`content-encoding: gzip`) the body is
 * inflated (bounded) and the signature is accepted over either the compressed or the inflated bytes, since the
 * documentation does not say which of the two Powens signs.
 */
import { gunzipSync } from 'node:zlib';
import { ServiceUnavailableError, toStepError } from '../errors';
import type { BalanceStore, ExclusionReason, LatestSelection } from '../adapters/dynamodb/balance-store';
import type { ConnectionHealthStore } from '../adapters/dynamodb/connection-health';
import type { Psd2Budget } from '../adapters/dynamodb/psd2-budget';
import type { WebhookDeliveries } from '../adapters/dynamodb/webhook-deliveries';
import type { UserRegistry } from '../adapters/dynamodb/user-registry';
import type { PowensSecret, SecretSource } from '../adapters/secrets/powens-secret';
import { parsePowensDateTime } from '../adapters/powens/datetime';
import type { PowensBankAccount } from '../adapters/powens/types';
import {
  SIGNATURE_DATE_HEADER,
  SIGNATURE_HEADER,
  SIGNATURE_MAX_SKEW_MS,
  verifyPowensWebhookSignature,
} from '../adapters/powens/webhook-signature';
import { type DomainLogger, type DomainMetrics, noMetrics, silentLogger } from '../observability';
import { type AccountBalanceRecord, mapAccountToBalance } from './balances';
import { type ConnectionHealth, healthFromConnection } from './connection-health';

export const POWENS_WEBHOOK_EVENTS = [
  'CONNECTION_SYNCED',
  'ACCOUNT_DISABLED',
  'CONNECTION_DELETED',
  'USER_DELETED',
] as const;
export type PowensWebhookEvent = (typeof POWENS_WEBHOOK_EVENTS)[number];

/** Body as received (compressed or not). Lambda's synchronous payload limit (6 MB) is the hard cap in AWS. */
export const MAX_WEBHOOK_BODY_BYTES = 5 * 1024 * 1024;
/** Inflated gzip bodies: a first sync can carry every transaction of every account. */
export const MAX_INFLATED_BODY_BYTES = 32 * 1024 * 1024;
const MAX_ACCOUNTS = 10_000;

export interface WebhookRequest {
  /** The `{event}` path parameter. */
  event: string;
  /** The path Powens signed: the registered URL's path (with the API stage prefix in AWS). */
  path: string;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  /** Raw body bytes as received. */
  body: Buffer;
}

export interface WebhookResponse {
  status: number;
  body: { status?: 'processed' | 'duplicate' | 'ignored'; error?: string; message: string; [key: string]: unknown };
}

export interface WebhookDeps {
  tenantId: string;
  secrets: SecretSource;
  store: BalanceStore;
  health: ConnectionHealthStore;
  budget: Psd2Budget;
  deliveries: WebhookDeliveries;
  /** The tenant's user registry, opened without a token key: only statuses are read. */
  users: Pick<UserRegistry, 'get' | 'markDeletedAtPowens'>;
  clock?: () => Date;
  logger?: DomainLogger;
  metrics?: DomainMetrics;
}

class Rejection extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message.length > 300 ? `${message.slice(0, 297)}...` : message);
  }
}

const reject = (status: number, error: string, message: string): Rejection => new Rejection(status, error, message);
const badPayload = (message: string): Rejection => reject(400, 'BadRequest', message);

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isId = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

function requireObject(value: unknown, where: string): Json {
  if (!isObject(value)) throw badPayload(`${where} must be a JSON object.`);
  return value;
}

function requireId(value: unknown, where: string): number {
  if (!isId(value)) throw badPayload(`${where} must be a positive integer.`);
  return value;
}

function optionalString(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 64) throw badPayload(`${where} must be a short string or null.`);
  return value;
}

function optionalDateTime(value: unknown, where: string): string | null {
  const text = optionalString(value, where);
  if (text !== null && parsePowensDateTime(text) === null) throw badPayload(`${where} is not a date-time.`);
  return text;
}

function optionalNumber(value: unknown, where: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badPayload(`${where} must be a number or null.`);
  return value;
}

/** The fields the balance mapping reads, checked one by one: webhook bodies are untrusted input. */
function parseAccount(raw: unknown, where: string): PowensBankAccount {
  const account = requireObject(raw, where);
  const currency = account.currency;
  if (currency !== undefined && currency !== null && (!isObject(currency) || typeof currency.id !== 'string')) {
    throw badPayload(`${where}.currency must be {id: string, ...} or null.`);
  }
  const connectionId = account.id_connection;
  if (connectionId !== undefined && connectionId !== null && !isId(connectionId)) {
    throw badPayload(`${where}.id_connection must be a positive integer or null.`);
  }
  for (const field of ['name', 'original_name', 'type', 'iban', 'number', 'usage', 'error'] as const) {
    if (
      account[field] !== undefined &&
      account[field] !== null &&
      (typeof account[field] !== 'string' || account[field].length > 1_000)
    ) {
      throw badPayload(`${where}.${field} must be a string or null.`);
    }
  }
  return {
    ...account,
    id: requireId(account.id, `${where}.id`),
    id_connection: (connectionId as number | null | undefined) ?? null,
    balance: optionalNumber(account.balance, `${where}.balance`),
    coming: optionalNumber(account.coming, `${where}.coming`),
    last_update: optionalDateTime(account.last_update, `${where}.last_update`),
    disabled: optionalDateTime(account.disabled, `${where}.disabled`),
    deleted: optionalDateTime(account.deleted, `${where}.deleted`),
    currency: (currency as PowensBankAccount['currency']) ?? null,
  } as PowensBankAccount;
}

function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function decodeBody(request: WebhookRequest): { text: Buffer; candidates: Buffer[] } {
  const encoding = header(request, 'content-encoding')?.toLowerCase();
  if (encoding === undefined || encoding === 'identity') return { text: request.body, candidates: [request.body] };
  if (encoding !== 'gzip' && encoding !== 'x-gzip')
    throw reject(
      415,
      'BadRequest',
      `content-encoding ${JSON.stringify(encoding.slice(0, 20))} is not supported (gzip only).`,
    );
  // API Gateway may already have inflated it: a body that is not gzip (no magic bytes) is taken as is.
  if (request.body.length < 2 || request.body[0] !== 0x1f || request.body[1] !== 0x8b) {
    return { text: request.body, candidates: [request.body] };
  }
  let inflated: Buffer;
  try {
    inflated = gunzipSync(request.body, { maxOutputLength: MAX_INFLATED_BODY_BYTES });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw reject(413, 'PayloadTooLarge', `The inflated body exceeds ${MAX_INFLATED_BODY_BYTES} bytes.`);
    }
    throw badPayload('The body is not valid gzip.');
  }
  return { text: inflated, candidates: [inflated, request.body] };
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Powens documents a UTC ISO 8601 date (`2022-06-27T11:08:52.577831Z`). Only that shape is read, and one without a
 * zone is UTC too: `new Date()` would read it in the machine's zone and anything date-like (`1`, RFC 2822) as well.
 */
function parseSignatureDate(date: string): Date | undefined {
  if (!ISO_DATE_TIME.test(date)) return undefined;
  const parsed = new Date(/[zZ]$|[+-]\d{2}:\d{2}$/.test(date) ? date : `${date}Z`);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

/** Authenticates the delivery; returns the inflated body, the signed date and the secret it was checked against. */
async function authenticate(
  request: WebhookRequest,
  deps: WebhookDeps,
  now: Date,
): Promise<{ text: Buffer; signedAt: Date; secret: PowensSecret }> {
  const signature = header(request, SIGNATURE_HEADER);
  const date = header(request, SIGNATURE_DATE_HEADER);
  if (signature === undefined || date === undefined) {
    throw reject(401, 'Unauthenticated', 'BI-Signature and BI-Signature-Date headers are required.');
  }
  const signedAt = parseSignatureDate(date);
  if (signedAt === undefined) throw reject(401, 'Unauthenticated', 'BI-Signature-Date is not an ISO 8601 date.');
  if (Math.abs(now.getTime() - signedAt.getTime()) > SIGNATURE_MAX_SKEW_MS) {
    throw reject(401, 'Unauthenticated', 'BI-Signature-Date is more than 5 minutes away from the receiver clock.');
  }
  const powensSecret = await deps.secrets.load();
  const secret = powensSecret.webhookSecret;
  if (secret === undefined) {
    (deps.logger ?? silentLogger).error('webhook refused: the Powens secret has no webhookSecret', {
      secret: deps.secrets.description,
    });
    throw reject(401, 'Unauthenticated', 'Webhook signatures cannot be verified: no webhook secret is configured.');
  }
  const { text, candidates } = decodeBody(request);
  const valid = candidates.some((body) =>
    verifyPowensWebhookSignature({ secret, path: request.path, date, signature, body }),
  );
  if (!valid) throw reject(401, 'Unauthenticated', 'BI-Signature does not match.');
  return { text, signedAt, secret: powensSecret };
}

interface ParsedDelivery {
  idWebhookData: number;
  /** Powens user the delivery is about, when the payload names one. */
  userId: number | undefined;
  /**
   * `served`: the user is one this tenant refreshes. A deletion for any other user still takes what is stored out of
   * positions (a family removed from the registry before Powens deleted it) but creates nothing.
   */
  process(served: boolean): Promise<Record<string, unknown>>;
  /** Only deletions run for users the tenant does not serve; anything else is ignored for them. */
  deletion: boolean;
}

type UserStanding = 'served' | 'unregistered' | 'disabled';

/**
 * Whose data this tenant stores: a user with an active registry item, or (deprecated path) one the Powens secret lists
 * and the registry does not know. A registry item always wins, as in the step Lambdas' credentials: a disabled or
 * deleted user is not written for, whatever the secret says. One rule for registry-only tenants and secret lists.
 */
async function standingOf(userId: number, secret: PowensSecret, deps: WebhookDeps): Promise<UserStanding> {
  const registered = await deps.users.get(userId);
  if (registered !== undefined) return registered.status === 'active' ? 'served' : 'disabled';
  return secret.users.some((user) => user.userId === userId) ? 'served' : 'unregistered';
}

export async function handlePowensWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  const clock = deps.clock ?? (() => new Date());
  const logger = deps.logger ?? silentLogger;
  const metrics = deps.metrics ?? noMetrics;
  try {
    if (!(POWENS_WEBHOOK_EVENTS as readonly string[]).includes(request.event)) {
      throw reject(404, 'NotFound', `Unsupported webhook event; supported: ${POWENS_WEBHOOK_EVENTS.join(', ')}.`);
    }
    const event = request.event as PowensWebhookEvent;
    if (request.body.length > MAX_WEBHOOK_BODY_BYTES) {
      throw reject(
        413,
        'PayloadTooLarge',
        `The body exceeds ${MAX_WEBHOOK_BODY_BYTES} bytes; enable Powens' webhook compression.`,
      );
    }
    const now = clock();
    const { text, signedAt, secret } = await authenticate(request, deps, now);
    let json: unknown;
    try {
      json = JSON.parse(text.toString('utf8'));
    } catch {
      throw badPayload('The body is not valid JSON.');
    }
    const payload = requireObject(json, 'The body');
    const delivery = parseDelivery(event, payload, signedAt, deps);

    // Answered 2xx either way: Powens would otherwise redeliver a delivery we will never want.
    const standing = delivery.userId === undefined ? 'served' : await standingOf(delivery.userId, secret, deps);
    if (standing !== 'served' && !delivery.deletion) {
      metrics.count('WebhookIgnored', 1);
      logger.warn('webhook ignored: the user is not an active user of this tenant', {
        event,
        userId: delivery.userId,
        standing,
      });
      return {
        status: 202,
        body: { status: 'ignored', message: 'The user is not an active user of this tenant; nothing stored.' },
      };
    }
    if ((await deps.deliveries.begin(deps.tenantId, delivery.idWebhookData, event)) === 'duplicate') {
      metrics.count('WebhookDuplicate', 1);
      return {
        status: 200,
        body: { status: 'duplicate', message: `Delivery ${delivery.idWebhookData} was already processed.` },
      };
    }
    const summary = await delivery.process(standing === 'served');
    await deps.deliveries.complete(deps.tenantId, delivery.idWebhookData, summary);
    metrics.count(`Webhook_${event}`, 1);
    logger.info('webhook processed', { event, idWebhookData: delivery.idWebhookData, ...summary });
    return { status: 200, body: { status: 'processed', message: `${event} processed.`, ...summary } };
  } catch (error) {
    if (error instanceof Rejection) {
      metrics.count('WebhookRejected', 1);
      if (error.status === 401)
        logger.warn('webhook rejected', { event: request.event.slice(0, 40), reason: error.message });
      return { status: error.status, body: { error: error.error, message: error.message } };
    }
    const stepError = toStepError(error);
    logger.error('webhook processing failed', {
      event: request.event.slice(0, 40),
      errorName: stepError.name,
      errorMessage: stepError.message,
    });
    // Powens redelivers on any non-2xx: a transient failure must not be answered 2xx.
    const status = stepError instanceof ServiceUnavailableError || stepError.retryable ? 503 : 500;
    return {
      status,
      body: { error: stepError.name, message: 'The delivery could not be stored; Powens will deliver it again.' },
    };
  }
}

function parseDelivery(event: PowensWebhookEvent, payload: Json, signedAt: Date, deps: WebhookDeps): ParsedDelivery {
  const idWebhookData = requireId(payload.id_webhook_data, 'id_webhook_data');
  const observedAt = signedAt.toISOString();
  switch (event) {
    case 'CONNECTION_SYNCED': {
      const user = requireObject(payload.user, 'user');
      const userId = requireId(user.id, 'user.id');
      const connection = requireObject(payload.connection, 'connection');
      const connectionId = requireId(connection.id, 'connection.id');
      const state = optionalString(connection.state, 'connection.state');
      const lastUpdate = optionalDateTime(connection.last_update, 'connection.last_update');
      const nextTry = optionalDateTime(connection.next_try, 'connection.next_try');
      if (connection.active !== undefined && typeof connection.active !== 'boolean')
        throw badPayload('connection.active must be a boolean.');
      const rawAccounts = connection.accounts ?? [];
      if (!Array.isArray(rawAccounts) || rawAccounts.length > MAX_ACCOUNTS) {
        throw badPayload(`connection.accounts must be an array of at most ${MAX_ACCOUNTS} accounts.`);
      }
      const accounts = rawAccounts.map((raw, i) => parseAccount(raw, `connection.accounts[${i}]`));
      const health = healthFromConnection(
        userId,
        {
          id: connectionId,
          state,
          last_update: lastUpdate,
          next_try: nextTry,
          ...(typeof connection.active === 'boolean' ? { active: connection.active } : {}),
        },
        signedAt,
        'webhook',
      );
      return {
        idWebhookData,
        userId,
        deletion: false,
        process: () => storeConnectionSynced(deps, health, accounts, lastUpdate, signedAt),
      };
    }
    case 'ACCOUNT_DISABLED': {
      const accountId = requireId(payload.id, 'id');
      const userId =
        payload.id_user === undefined || payload.id_user === null ? undefined : requireId(payload.id_user, 'id_user');
      const disabled = optionalDateTime(payload.disabled, 'disabled');
      const at = parsePowensDateTime(disabled)?.toISOString() ?? observedAt;
      return {
        idWebhookData,
        userId,
        // Marks the account's stored latest balance, if any: nothing is created.
        deletion: true,
        process: async () => ({
          accountsExcluded: await deps.store.excludeLatest(
            deps.tenantId,
            { accountIds: [String(accountId)] },
            { reason: 'account_disabled', at },
          ),
        }),
      };
    }
    case 'CONNECTION_DELETED': {
      const connectionId = requireId(payload.id, 'id');
      const userId = requireId(payload.id_user, 'id_user');
      return deletion(
        deps,
        { idWebhookData, userId, observedAt },
        { connectionId: String(connectionId) },
        'connection_deleted',
        async () => [connectionId],
      );
    }
    case 'USER_DELETED': {
      const userId = requireId(payload.id, 'id');
      const userDeletion = deletion(
        deps,
        { idWebhookData, userId, observedAt },
        { powensUserId: userId },
        'user_deleted',
        async () =>
          (await deps.health.list(deps.tenantId, { userId }))
            .filter((h) => h.deleted !== true)
            .map((h) => h.connectionId),
      );
      return {
        ...userDeletion,
        // Last: a failure before it leaves the user as it was, and the redelivery runs everything again.
        process: async (served) => {
          const summary = await userDeletion.process(served);
          const userDisabled = await deps.users.markDeletedAtPowens(userId, observedAt);
          if (!userDisabled && (await deps.secrets.load()).users.some((user) => user.userId === userId)) {
            // The secret is read-only here: every refresh of this user would fail on its dead token until then.
            (deps.logger ?? silentLogger).warn(
              'Powens deleted a user the Powens secret still lists: remove it from the Powens secret',
              { userId },
            );
          }
          return { ...summary, userDisabled };
        },
      };
    }
  }
}

/**
 * A deletion: excludes the latest balances in scope, then marks each connection deleted in the health store. The
 * connections are listed only after the exclusion, as both deletion events always did.
 */
function deletion(
  deps: WebhookDeps,
  delivery: { idWebhookData: number; userId: number; observedAt: string },
  scope: LatestSelection,
  reason: ExclusionReason,
  deletedConnectionIds: () => Promise<number[]>,
): ParsedDelivery {
  const { idWebhookData, userId, observedAt } = delivery;
  return {
    idWebhookData,
    userId,
    deletion: true,
    process: async (served) => {
      const accountsExcluded = await deps.store.excludeLatest(deps.tenantId, scope, { reason, at: observedAt });
      const connectionIds = await deletedConnectionIds();
      let connectionsDeleted = 0;
      for (const connectionId of connectionIds) {
        const health = deletedHealth(userId, connectionId, observedAt);
        if (await deps.health.record(deps.tenantId, health, { onlyExisting: !served })) connectionsDeleted += 1;
      }
      return { accountsExcluded, connectionsDeleted };
    },
  };
}

function deletedHealth(userId: number, connectionId: number, observedAt: string): ConnectionHealth {
  return {
    userId,
    connectionId,
    state: null,
    lastUpdate: null,
    nextTry: null,
    needsUser: false,
    deleted: true,
    observedAt,
    source: 'webhook',
  };
}

async function storeConnectionSynced(
  deps: WebhookDeps,
  health: ConnectionHealth,
  accounts: PowensBankAccount[],
  lastUpdate: string | null,
  signedAt: Date,
): Promise<Record<string, unknown>> {
  const records: AccountBalanceRecord[] = [];
  let skipped = 0;
  for (const account of accounts) {
    // The payload's accounts belong to this connection whatever an account claims. The connection state travels
    // with each record: a balance of a connection that needs the account holder is served as stale.
    const mapped = mapAccountToBalance(
      { ...account, id_connection: health.connectionId },
      {
        tenantId: deps.tenantId,
        userId: health.userId,
        connectionLastUpdate: lastUpdate,
        connectionState: health.state,
        now: signedAt,
      },
    );
    if ('record' in mapped) records.push(mapped.record);
    else skipped += 1;
  }
  const written = await deps.store.writeSnapshots(records);
  await deps.health.record(deps.tenantId, health);
  const synced = health.state === null ? parsePowensDateTime(lastUpdate) : null;
  const psd2 =
    synced === null ? 'not_a_sync' : await deps.budget.observeSync(health.userId, health.connectionId, synced);
  return {
    balances: records.length,
    accountsSkipped: skipped,
    latestAdvanced: written.latestAdvanced,
    latestStale: written.latestStale,
    latestConnectionStateChanged: written.latestConnectionStateChanged,
    needsUser: health.needsUser,
    psd2,
  };
}
