/**
 * Powens sandbox: an HTTP fake of Powens API 2.0 on 127.0.0.1, built on node:http, serving the contract of
 * docs/powens-api.md §7 (auth, users/me, connections, forced sync, accounts, errors, rate limit).
 *
 * It exists so the real client, the real handlers and `npm start` talk real HTTP to something that behaves like
 * Powens, including the awkward parts: slow blocking syncs, 409 while a sync runs, 202 for connections that need
 * the user, 400 noAccount, and injectable transport faults (hangs, resets, malformed bodies).
 *
 * Deterministic: timestamps come from the injected clock, balances move by a seeded PRNG (or fixed deltas). Only
 * sync latency and hangs use real timers, and both are cleaned up by close().
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { signPowensWebhook } from '../../../lambdas/core/adapters/powens/webhook-signature';
import { formatPowensDateTime } from '../../../lambdas/core/adapters/powens/datetime';
import {
  classifyConnectionState,
  type ConnectionState,
  type PowensBankAccount,
  type PowensConnection,
  type ServiceError,
} from '../../../lambdas/core/adapters/powens/types';
import {
  createPrng,
  DAY_MS,
  HOUR_MS,
  secretFor,
  type PowensSecret,
  type SandboxConnectionSeed,
  type SandboxDataset,
  type SandboxSyncScript,
  type SandboxUserSeed,
} from './dataset';
import { type FaultRule, FaultRegistry, parseFaultRule, type SandboxFault } from './faults';

export const API_PREFIX = '/2.0';
export const CONTROL_PREFIX = '/__sandbox';

export interface RateLimitOptions {
  /** Requests allowed per window (Powens sandbox: 30 per minute). */
  limit: number;
  /** Window length (default 60 000 ms), measured with the sandbox clock. */
  windowMs?: number;
}

export interface PowensSandboxOptions {
  dataset: SandboxDataset;
  /** 0 (default) = a random free port. */
  port?: number;
  /** Loopback by default; the sandbox has no auth on its control API, so do not expose it. */
  host?: string;
  /** Clock for every timestamp the sandbox writes (default: real time). */
  clock?: () => Date;
  /** Default latency of a forced sync (per-connection `sync.latencyMs` overrides it). Default 0. */
  syncLatencyMs?: number;
  /** Off by default so tests are not throttled. */
  rateLimit?: RateLimitOptions | false;
  /**
   * Page size applied to GET /users/{u}/connections when the caller sends no `limit` (default: unpaged, which is
   * what Powens does in practice). Lets tests prove the client follows `_links.next` without sending `limit`.
   */
  connectionsPageSize?: number;
  /**
   * Webhook emitter, as configured in the Powens console: after every sync that ends (API or automatic), POST a
   * signed CONNECTION_SYNCED to `${baseUrl}/CONNECTION_SYNCED` (BI-Signature HMAC with the secret's webhookSecret).
   * Non-2xx answers and network failures are retried up to `attempts` times (default 3).
   */
  webhooks?: { baseUrl: string; attempts?: number };
}

/** One webhook POST the sandbox made (per attempt). */
export interface WebhookDeliveryRecord {
  event: 'CONNECTION_SYNCED';
  idWebhookData: number;
  connectionId: number;
  attempt: number;
  /** HTTP status, or undefined on a network failure. */
  status: number | undefined;
}

export interface RecordedRequest {
  seq: number;
  method: string;
  /** Full path including `/2.0`, without the query. */
  path: string;
  query: Record<string, string>;
  /** ISO time from the sandbox clock. */
  at: string;
  /** User resolved from the bearer token (never the token itself). */
  userId?: number;
  connectionId?: number;
  /** For PUT /connections/{cid}: the effective psu_requested (Powens' default is true). */
  psuRequested?: boolean;
  body?: unknown;
  /** HTTP status sent; undefined for hangs and resets. */
  status?: number;
  fault?: SandboxFault['kind'];
  requestId: string;
}

export interface RecordedSync {
  via: 'PUT' | 'POST';
  userId: number;
  connectionId: number;
  psuRequested: boolean;
  status: number | undefined;
  at: string;
}

/** One sync that reached the (simulated) bank: what PSD2 counts, whatever the client saw of it. */
export interface BankSync {
  connectionId: number;
  userId: number;
  /** `api`: a PUT/POST asked for it; `auto`: Powens' own scheduled sync (autoSync). */
  trigger: 'api' | 'auto';
  /** Powens' psu_requested for API syncs (false = unattended); always false for auto syncs. */
  psuRequested: boolean;
  startedAt: string;
}

export interface SyncHold {
  /** Resolves when a sync of the held connection has started and is waiting on the hold. */
  started: Promise<void>;
  /** Lets held syncs finish. */
  release(): void;
}

export interface PowensSandbox {
  /** e.g. http://127.0.0.1:41234/2.0 — give it to createPowensClient. */
  baseUrl: string;
  origin: string;
  port: number;
  /** The Powens secret (client id/secret + user tokens) for this dataset. */
  secret: PowensSecret;
  /** Live list of every API request served (control requests excluded). */
  requests: RecordedRequest[];
  /** PUT/POST syncs only, with their psu_requested flag. */
  syncRequests(): RecordedSync[];
  /** Syncs that actually started at the bank (refused, 409 and 202-without-attempt requests excluded). */
  bankSyncs(): BankSync[];
  clearRequests(): void;
  faults: FaultRegistry;
  /** Live objects: mutate them to set up a scenario. */
  connection(connectionId: number): PowensConnection;
  accounts(connectionId: number): PowensBankAccount[];
  account(accountId: number): PowensBankAccount;
  setConnectionState(connectionId: number, state: ConnectionState | null, errorMessage?: string | null): void;
  scriptSync(connectionId: number, script: SandboxSyncScript): void;
  /** Makes syncs of a connection block until release() (deterministic "slow sync"). */
  holdSyncs(connectionId: number): SyncHold;
  /** Connection ids whose sync is in flight right now. */
  inFlightSyncs(): number[];
  /** Powens' own scheduled sync of a connection (unattended, counted as a bank access), then its webhook. */
  autoSync(connectionId: number): Promise<PowensConnection>;
  /** Every webhook POST attempt so far. */
  webhookDeliveries(): WebhookDeliveryRecord[];
  /** Resolves when every webhook delivery started so far has finished (tests, `npm start`). */
  flushWebhooks(): Promise<void>;
  close(): Promise<void>;
}

interface LiveConnection {
  seed: SandboxConnectionSeed;
  user: LiveUser;
  inFlight: boolean;
  hold?: { promise: Promise<void>; release: () => void; notifyStarted: () => void };
}

interface LiveUser {
  seed: SandboxUserSeed;
  connections: LiveConnection[];
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

const notFound = (what: string): HttpProblem => new HttpProblem(404, 'notFound', `${what} was not found.`);

function parseId(raw: string | undefined, what: string): number {
  if (raw === undefined || !/^[1-9]\d{0,15}$/.test(raw)) throw notFound(what);
  return Number(raw);
}

function queryFlag(params: URLSearchParams, name: string, defaultValue: boolean): boolean {
  if (!params.has(name)) return defaultValue;
  const value = (params.get(name) ?? '').toLowerCase();
  return !(value === 'false' || value === '0');
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export async function startPowensSandbox(options: PowensSandboxOptions): Promise<PowensSandbox> {
  // Own copy: a test mutating the sandbox must not leak into the next test's dataset object.
  const dataset: SandboxDataset = structuredClone(options.dataset);
  const clock = options.clock ?? (() => new Date());
  const defaultLatency = options.syncLatencyMs ?? 0;
  const rateLimit = options.rateLimit || undefined;
  const prng = createPrng(dataset.seed);
  const faults = new FaultRegistry();
  const requests: RecordedRequest[] = [];
  const bankSyncs: BankSync[] = [];
  const rateLog: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const pendingWaits = new Set<() => void>();
  let closed = false;
  let requestCounter = 0;
  let nextUserId = Math.max(0, ...dataset.users.map((u) => u.id)) + 1;

  const users = new Map<number, LiveUser>();
  const tokens = new Map<string, LiveUser>();
  const connections = new Map<number, LiveConnection>();
  const accountsById = new Map<number, { account: PowensBankAccount; connection: LiveConnection }>();

  const addUser = (seed: SandboxUserSeed): LiveUser => {
    const user: LiveUser = { seed, connections: [] };
    users.set(seed.id, user);
    tokens.set(seed.token, user);
    for (const connectionSeed of seed.connections) {
      const live: LiveConnection = { seed: connectionSeed, user, inFlight: false };
      if (connections.has(connectionSeed.connection.id)) {
        throw new Error(`Sandbox dataset: connection id ${connectionSeed.connection.id} is used twice`);
      }
      connections.set(connectionSeed.connection.id, live);
      user.connections.push(live);
      for (const account of connectionSeed.accounts) {
        if (accountsById.has(account.id)) throw new Error(`Sandbox dataset: account id ${account.id} is used twice`);
        accountsById.set(account.id, { account, connection: live });
      }
    }
    return user;
  };
  for (const seed of dataset.users) addUser(seed);

  const now = (): string => formatPowensDateTime(clock());

  /** Waits `ms` on a real timer that close() cancels (resolving, so no promise dangles). */
  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0 || closed) return resolve();
      const done = (): void => {
        timers.delete(timer);
        pendingWaits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timers.add(timer);
      pendingWaits.add(done);
    });

  const mustConnection = (id: number): LiveConnection => {
    const live = connections.get(id);
    if (!live) throw new Error(`Sandbox has no connection ${id}; known: ${[...connections.keys()].join(', ')}`);
    return live;
  };

  // ---- serialisation ---------------------------------------------------------------------------------------------

  const isListed = (account: PowensBankAccount, all: boolean): boolean =>
    all || (account.disabled === null && account.deleted === null);

  const connectionBody = (live: LiveConnection, expand: Set<string>): PowensConnection => {
    const body: PowensConnection = structuredClone(live.seed.connection);
    delete body.accounts;
    delete body.all_accounts;
    if (expand.has('accounts'))
      body.accounts = live.seed.accounts.filter((a) => isListed(a, false)).map((a) => structuredClone(a));
    if (expand.has('all_accounts')) body.all_accounts = live.seed.accounts.map((a) => structuredClone(a));
    return body;
  };

  const totals = (accounts: PowensBankAccount[], field: 'balance' | 'coming'): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const a of accounts) {
      const value = a[field];
      if (typeof value === 'number' && a.currency) out[a.currency.id] = round2((out[a.currency.id] ?? 0) + value);
    }
    return out;
  };

  /** A list of accounts: only the listed ones (`all`: disabled and deleted too), refused when none is. */
  const accountsListBody = (own: PowensBankAccount[], all: boolean, expand: Set<string>): Record<string, unknown> => {
    const accounts = own.filter((a) => isListed(a, all));
    if (accounts.length === 0) throw new HttpProblem(400, 'noAccount', 'At least one bank account is required.');
    return {
      accounts: accounts.map((a) => {
        const body = structuredClone(a);
        const live = a.id_connection === null ? undefined : connections.get(a.id_connection);
        // `expand=connection`: the account's Connection as GET /connections/{id} returns it (state included).
        if (expand.has('connection') && live) body.connection = connectionBody(live, new Set());
        return body;
      }),
      balances: totals(accounts, 'balance'),
      coming_balances: totals(accounts, 'coming'),
      total: accounts.length,
    };
  };

  // ---- sync ------------------------------------------------------------------------------------------------------

  const nextOutcome = (live: LiveConnection): ConnectionState | null => {
    const script = live.seed.sync;
    if (script?.outcomes && script.outcomes.length > 0) return script.outcomes.shift() ?? null;
    return script?.outcome ?? null;
  };

  const applyOutcome = (
    live: LiveConnection,
    outcome: ConnectionState | null,
    previous: ConnectionState | null,
  ): void => {
    const c = live.seed.connection;
    const at = clock();
    if (outcome === null) {
      const delta = live.seed.sync?.balanceDelta;
      for (const account of live.seed.accounts) {
        if (!isListed(account, false)) continue;
        if (account.balance !== null) {
          const move = delta ?? round2((prng() * 2 - 1) * Math.max(50, Math.abs(account.balance) * 0.01));
          account.balance = round2(account.balance + move);
        }
        account.last_update = formatPowensDateTime(at);
        account.error = null;
      }
      c.state = null;
      c.error = null;
      c.error_message = null;
      c.fields = null;
      c.last_update = formatPowensDateTime(at);
      c.last_push = c.last_update;
      c.next_try = formatPowensDateTime(new Date(at.getTime() + DAY_MS));
      return;
    }
    // last_update is the last *successful* update: a failed sync leaves it (and the balances) where they were.
    c.state = outcome;
    c.error = outcome;
    const cls = classifyConnectionState(outcome);
    c.next_try = cls === 'transient' ? formatPowensDateTime(new Date(at.getTime() + HOUR_MS)) : null;
    if (outcome !== previous) c.error_message = null;
  };

  /**
   * Runs one sync. `userPresent` is Powens' psu_requested: with the user absent, a connection that needs the user
   * cannot be unblocked, so Powens answers 202 with the connection unchanged (no SCA is attempted).
   */
  const runSync = async (
    live: LiveConnection,
    how: {
      userPresent: boolean;
      resolvesUserAction: boolean;
      background: boolean;
      expand: Set<string>;
      trigger?: 'api' | 'auto';
    },
  ): Promise<{ status: number; body: PowensConnection }> => {
    const c = live.seed.connection;
    if (live.inFlight) {
      throw new HttpProblem(409, 'invalidValue', 'A synchronization of this connection is already in progress.');
    }
    const previous = c.state;
    const cls = classifyConnectionState(previous);
    if ((cls === 'needs_user' && !how.resolvesUserAction) || cls === 'unrecoverable') {
      return { status: cls === 'needs_user' ? 202 : 200, body: connectionBody(live, how.expand) };
    }
    live.inFlight = true;
    bankSyncs.push({
      connectionId: c.id,
      userId: live.user.seed.id,
      trigger: how.trigger ?? 'api',
      psuRequested: how.trigger === 'auto' ? false : how.userPresent,
      startedAt: clock().toISOString(),
    });
    c.state = 'validating';
    c.error = 'validating';
    const finish = async (): Promise<void> => {
      try {
        await wait(live.seed.sync?.latencyMs ?? defaultLatency);
        if (live.hold) {
          live.hold.notifyStarted();
          await live.hold.promise;
        }
        if (!closed) applyOutcome(live, nextOutcome(live), previous);
      } finally {
        live.inFlight = false;
      }
    };
    const finishAndNotify = async (): Promise<void> => {
      await finish();
      if (!closed) emitConnectionSynced(live);
    };
    if (how.background) {
      void finishAndNotify();
      return { status: 202, body: connectionBody(live, how.expand) };
    }
    await finishAndNotify();
    const status = classifyConnectionState(c.state) === 'needs_user' ? 202 : 200;
    return { status, body: connectionBody(live, how.expand) };
  };

  // ---- webhooks --------------------------------------------------------------------------------------------------

  const deliveries: WebhookDeliveryRecord[] = [];
  const pendingDeliveries = new Set<Promise<void>>();
  // close() aborts deliveries in flight: a receiver that hangs must not keep the sandbox (or jest) alive.
  const webhookAbort = new AbortController();
  let webhookCounter = 0;

  const deliver = async (
    event: 'CONNECTION_SYNCED',
    connectionId: number,
    payload: Record<string, unknown>,
  ): Promise<void> => {
    const config = options.webhooks;
    if (!config) return;
    const url = new URL(`${config.baseUrl.replace(/\/$/, '')}/${event}`);
    const idWebhookData = ++webhookCounter;
    const body = Buffer.from(JSON.stringify({ ...payload, id_webhook_data: idWebhookData }));
    const attempts = config.attempts ?? 3;
    for (let attempt = 1; attempt <= attempts && !closed; attempt++) {
      // Signed per attempt, like Powens: a redelivery carries a fresh date.
      const date = clock().toISOString();
      const record: WebhookDeliveryRecord = { event, idWebhookData, connectionId, attempt, status: undefined };
      deliveries.push(record);
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'bi-signature-date': date,
            'bi-signature': signPowensWebhook({
              secret: secretFor(dataset).webhookSecret,
              path: url.pathname,
              date,
              body,
            }),
          },
          body,
          signal: AbortSignal.any([webhookAbort.signal, AbortSignal.timeout(30_000)]),
        });
        record.status = response.status;
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // Network failure: retried like a non-2xx answer.
      }
    }
  };

  const emitConnectionSynced = (live: LiveConnection): void => {
    if (!options.webhooks) return;
    const payload = {
      user: { id: live.user.seed.id, signin: live.user.seed.signin },
      connection: connectionBody(live, new Set(['accounts'])),
    };
    const delivery = deliver('CONNECTION_SYNCED', live.seed.connection.id, payload).finally(() =>
      pendingDeliveries.delete(delivery),
    );
    pendingDeliveries.add(delivery);
  };

  // ---- HTTP plumbing ---------------------------------------------------------------------------------------------

  const server = createServer();
  // No idle timeout on keep-alive sockets: a client reusing one just as Node's default 5 s timer closes it gets
  // ECONNRESET (a gap that long happens between test requests on a loaded machine). close() ends them.
  server.keepAliveTimeout = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const send = (
    res: ServerResponse,
    record: RecordedRequest | undefined,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    if (record) record.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-request-id': record?.requestId ?? 'control',
      ...headers,
    });
    res.end(text);
  };

  const sendProblem = (res: ServerResponse, record: RecordedRequest, problem: HttpProblem): void => {
    const body: ServiceError = {
      code: problem.code,
      description: problem.description,
      message: null,
      request_id: record.requestId,
    };
    send(res, record, problem.status, body, problem.headers);
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return undefined;
    const type = req.headers['content-type'] ?? '';
    if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpProblem(400, 'invalidValue', 'The request body is not valid JSON.');
    }
  };

  const authenticate = (req: IncomingMessage): LiveUser => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const user = match?.[1] === undefined ? undefined : tokens.get(match[1]);
    if (!user) {
      throw new HttpProblem(
        401,
        'invalidToken',
        header === '' ? 'Missing authorization header.' : 'Invalid or revoked token.',
      );
    }
    return user;
  };

  /** `me` or the token's own id; another user's id is "unknown for this authorization scope" (docs/powens-api.md §3.2) → 404. */
  const resolveUser = (tokenUser: LiveUser, segment: string): LiveUser => {
    if (segment === 'me' || segment === String(tokenUser.seed.id)) return tokenUser;
    throw notFound('User');
  };

  const ownedConnection = (user: LiveUser, raw: string | undefined): LiveConnection => {
    const id = parseId(raw, 'Connection');
    const live = connections.get(id);
    if (!live || live.user !== user) throw notFound('Connection');
    return live;
  };

  const expandOf = (params: URLSearchParams): Set<string> =>
    new Set(
      (params.get('expand') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );

  const applyFault = (
    req: IncomingMessage,
    res: ServerResponse,
    record: RecordedRequest,
    fault: SandboxFault,
  ): void => {
    record.fault = fault.kind;
    switch (fault.kind) {
      case 'status': {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        const defaults: Record<number, string> = {
          403: 'forbidden',
          500: 'bug',
          502: 'bug',
          503: 'websiteUnavailable',
          504: 'bug',
        };
        sendProblem(
          res,
          record,
          new HttpProblem(
            fault.status,
            fault.code ?? defaults[fault.status] ?? 'bug',
            fault.description ?? `Injected HTTP ${fault.status}.`,
            headers,
          ),
        );
        return;
      }
      case 'rateLimited':
        sendProblem(
          res,
          record,
          new HttpProblem(429, 'tooManyRequests', 'Rate limit exceeded (injected).', {
            'retry-after': String(fault.retryAfter ?? 30),
          }),
        );
        return;
      case 'hang':
        // Keep the socket open; close() (closeAllConnections) destroys it.
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'malformed': {
        const text = fault.body ?? '{"connections": [{"id": 1, "state": nu';
        record.status = fault.status ?? 200;
        res.writeHead(record.status, { 'content-type': 'application/json', 'x-request-id': record.requestId });
        res.end(text);
        return;
      }
    }
  };

  const checkRateLimit = (): void => {
    if (!rateLimit) return;
    const windowMs = rateLimit.windowMs ?? 60_000;
    const t = clock().getTime();
    while (rateLog.length > 0 && (rateLog[0] ?? 0) <= t - windowMs) rateLog.shift();
    if (rateLog.length >= rateLimit.limit) {
      const retryAfterS = Math.max(1, Math.ceil(((rateLog[0] ?? t) + windowMs - t) / 1000));
      throw new HttpProblem(
        429,
        'tooManyRequests',
        `Rate limit of ${rateLimit.limit} calls per ${windowMs / 1000} s exceeded.`,
        {
          'retry-after': String(retryAfterS),
        },
      );
    }
    rateLog.push(t);
  };

  // ---- API routes ------------------------------------------------------------------------------------------------

  const handleApi = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    record: RecordedRequest,
  ): Promise<void> => {
    const method = req.method ?? 'GET';
    const sub = url.pathname.slice(API_PREFIX.length) || '/';
    const segments = sub.split('/').filter(Boolean);
    const params = url.searchParams;

    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const fault = faults.take(method, sub, bearer === undefined ? undefined : tokens.get(bearer)?.seed.id);
    if (fault) return applyFault(req, res, record, fault);
    checkRateLimit();

    const body = method === 'GET' ? undefined : await readBody(req);
    if (body !== undefined) record.body = redactBody(body);

    // --- auth ---
    if (segments[0] === 'auth') {
      const b = (body ?? {}) as Record<string, unknown>;
      const credentialsOk = (): boolean => b.client_id === dataset.clientId && b.client_secret === dataset.clientSecret;
      if (sub === '/auth/init' && method === 'POST') {
        const permanent = b.client_id !== undefined || b.client_secret !== undefined;
        if (permanent && !credentialsOk())
          throw new HttpProblem(401, 'invalidClient', 'Wrong client_id or client_secret.');
        const seed: SandboxUserSeed = {
          id: nextUserId++,
          token: `sbx_${randomBytes(16).toString('hex')}`,
          label: 'Created by /auth/init',
          signin: now(),
          connections: [],
        };
        dataset.users.push(seed);
        addUser(seed);
        record.userId = seed.id;
        return send(res, record, 200, {
          auth_token: seed.token,
          type: permanent ? 'permanent' : 'temporary',
          id_user: seed.id,
          expires_in: permanent ? null : 1800,
        });
      }
      if (sub === '/auth/renew' && method === 'POST') {
        if (!credentialsOk()) throw new HttpProblem(401, 'invalidClient', 'Wrong client_id or client_secret.');
        const user = users.get(Number(b.id_user));
        if (!user) throw new HttpProblem(400, 'invalidValue', `Unknown id_user ${JSON.stringify(b.id_user)}.`);
        if (b.revoke_previous === true || b.revoke_previous === 'true') {
          for (const [token, owner] of tokens) if (owner === user) tokens.delete(token);
        }
        const token = `sbx_${randomBytes(16).toString('hex')}`;
        tokens.set(token, user);
        record.userId = user.seed.id;
        return send(res, record, 200, { access_token: token, token_type: 'Bearer' });
      }
      if (sub === '/auth/token/code' && method === 'GET') {
        const user = authenticate(req);
        record.userId = user.seed.id;
        return send(res, record, 200, {
          code: `sbx_code_${randomBytes(8).toString('hex')}`,
          type: 'temporary',
          access: params.get('type') === 'singleAccess' ? 'single' : 'standard',
          expires_in: 1800,
        });
      }
      throw notFound('Route');
    }

    if (segments[0] !== 'users' || segments.length < 2) throw notFound('Route');
    const tokenUser = authenticate(req);
    record.userId = tokenUser.seed.id;
    const user = resolveUser(tokenUser, segments[1] ?? '');
    const rest = segments.slice(2);
    const expand = expandOf(params);
    const all = queryFlag(params, 'all', false);
    const allow = (...methods: string[]): void => {
      if (!methods.includes(method))
        throw new HttpProblem(405, 'methodNotAllowed', `Method ${method} is not allowed on ${sub}.`);
    };

    // /users/{u}
    if (rest.length === 0) {
      allow('GET');
      return send(res, record, 200, { id: user.seed.id, signin: user.seed.signin });
    }

    // /users/{u}/connections
    if (rest[0] === 'connections' && rest.length === 1) {
      allow('GET');
      const list = user.connections.map((c) => connectionBody(c, expand));
      if (!params.has('limit') && options.connectionsPageSize === undefined) {
        return send(res, record, 200, { connections: list });
      }
      const limit = Number(params.get('limit') ?? options.connectionsPageSize);
      const offset = Number(params.get('offset') ?? '0');
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !Number.isInteger(offset) || offset < 0) {
        throw new HttpProblem(400, 'invalidValue', 'limit must be 1..1000 and offset ≥ 0.');
      }
      const page = list.slice(offset, offset + limit);
      const link = (o: number): { href: string } => {
        const u = new URL(url.href);
        u.searchParams.set('offset', String(o));
        return { href: u.href };
      };
      return send(res, record, 200, {
        connections: page,
        total: list.length,
        _links: {
          self: { href: url.href },
          prev: offset > 0 ? link(Math.max(0, offset - limit)) : null,
          next: offset + limit < list.length ? link(offset + limit) : null,
        },
      });
    }

    // /users/{u}/connections/{cid}[/accounts]
    if (rest[0] === 'connections') {
      const live = ownedConnection(user, rest[1]);
      record.connectionId = live.seed.connection.id;
      if (rest.length === 3 && rest[2] === 'accounts') {
        allow('GET');
        return send(res, record, 200, accountsListBody(live.seed.accounts, all, expand));
      }
      if (rest.length !== 2) throw notFound('Route');
      allow('GET', 'PUT', 'POST');
      if (method === 'GET') return send(res, record, 200, connectionBody(live, expand));
      if (method === 'PUT') {
        const psuRequested = queryFlag(params, 'psu_requested', true);
        record.psuRequested = psuRequested;
        const out = await runSync(live, {
          userPresent: psuRequested,
          resolvesUserAction: false,
          background: false,
          expand,
        });
        return send(res, record, out.status, out.body);
      }
      // POST: update and/or sync. Empty body = sync with the user present; `resume` / field values answer the
      // interaction the connection is waiting for; `active` toggles automatic syncs.
      const b = (body ?? {}) as Record<string, unknown>;
      if (typeof b !== 'object' || Array.isArray(b))
        throw new HttpProblem(400, 'invalidValue', 'Body must be an object.');
      if (typeof b.active === 'boolean') live.seed.connection.active = b.active;
      const state = live.seed.connection.state;
      const answers = Object.keys(b).filter(
        (k) => !['resume', 'active', 'expire', 'source', 'refresh_auth'].includes(k),
      );
      const resolves =
        ((b.resume === true || b.resume === 'true') && (state === 'decoupled' || state === 'SCARequired')) ||
        (answers.length > 0 && (state === 'additionalInformationNeeded' || state === 'wrongpass'));
      record.psuRequested = true;
      const out = await runSync(live, {
        userPresent: true,
        resolvesUserAction: resolves,
        background: queryFlag(params, 'background', false),
        expand,
      });
      return send(res, record, out.status, out.body);
    }

    // /users/{u}/accounts[/{aid}]
    if (rest[0] === 'accounts') {
      const own = user.connections.flatMap((c) => c.seed.accounts);
      if (rest.length === 1) {
        allow('GET');
        return send(res, record, 200, accountsListBody(own, all, expand));
      }
      if (rest.length === 2) {
        allow('GET');
        const id = parseId(rest[1], 'Account');
        const account = own.find((a) => a.id === id);
        // Without ?all a disabled/deleted account is invisible, even by id (docs/powens-api.md §2.3).
        if (!account || !isListed(account, all)) throw notFound('Account');
        return send(res, record, 200, structuredClone(account));
      }
    }
    throw notFound('Route');
  };

  // ---- control routes (`npm start` scripting) --------------------------------------------------------------------

  const handleControl = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const sub = url.pathname.slice(CONTROL_PREFIX.length);
    const reply = (status: number, body: unknown): void => send(res, undefined, status, body);
    if (sub === '/faults') {
      if (method === 'GET') return reply(200, { faults: faults.list() });
      if (method === 'DELETE') {
        faults.clear();
        return reply(200, { faults: [] });
      }
      if (method === 'POST') {
        const raw = await readBody(req);
        try {
          const rules: FaultRule[] = (Array.isArray(raw) ? raw : [raw]).map(parseFaultRule);
          return reply(201, { ids: rules.map((r) => faults.add(r)) });
        } catch (error) {
          return reply(400, {
            code: 'invalidValue',
            description: (error as Error).message,
            message: null,
            request_id: null,
          });
        }
      }
    }
    if (sub === '/requests' && method === 'GET') return reply(200, { requests });
    const autoMatch = /^\/connections\/(\d+)\/auto-sync$/.exec(sub);
    if (autoMatch && method === 'POST') {
      const id = Number(autoMatch[1]);
      if (!connections.has(id))
        return reply(404, { code: 'notFound', description: `No connection ${id}`, message: null, request_id: null });
      return reply(200, await api.autoSync(id));
    }
    const stateMatch = /^\/connections\/(\d+)\/state$/.exec(sub);
    if (stateMatch && method === 'POST') {
      const raw = (await readBody(req)) as
        { state?: ConnectionState | null; error_message?: string | null } | undefined;
      const id = Number(stateMatch[1]);
      if (!connections.has(id))
        return reply(404, { code: 'notFound', description: `No connection ${id}`, message: null, request_id: null });
      api.setConnectionState(id, raw?.state ?? null, raw?.error_message);
      return reply(200, connectionBody(mustConnection(id), new Set()));
    }
    return reply(404, {
      code: 'notFound',
      description: `Unknown control route ${method} ${url.pathname}`,
      message: null,
      request_id: null,
    });
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname.startsWith(`${CONTROL_PREFIX}/`)) {
      handleControl(req, res, url).catch((error: unknown) => {
        if (!res.headersSent)
          send(res, undefined, 500, { code: 'bug', description: String(error), message: null, request_id: null });
      });
      return;
    }
    requestCounter++;
    const record: RecordedRequest = {
      seq: requestCounter,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      at: clock().toISOString(),
      requestId: `sbx-${requestCounter.toString(16).padStart(8, '0')}`,
    };
    requests.push(record);
    const run = async (): Promise<void> => {
      if (url.pathname !== API_PREFIX && !url.pathname.startsWith(`${API_PREFIX}/`)) throw notFound('Route');
      await handleApi(req, res, url, record);
    };
    run().catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HttpProblem) return sendProblem(res, record, error);
      sendProblem(res, record, new HttpProblem(500, 'bug', `Sandbox bug: ${String(error)}`));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const api: PowensSandbox = {
    baseUrl: `${origin}${API_PREFIX}`,
    origin,
    port: address.port,
    secret: secretFor(dataset),
    requests,
    syncRequests: () =>
      requests
        .filter(
          (r) =>
            r.connectionId !== undefined &&
            r.userId !== undefined &&
            (r.method === 'PUT' || r.method === 'POST') &&
            r.psuRequested !== undefined,
        )
        .map((r) => ({
          via: r.method as 'PUT' | 'POST',
          userId: r.userId as number,
          connectionId: r.connectionId as number,
          psuRequested: r.psuRequested as boolean,
          status: r.status,
          at: r.at,
        })),
    bankSyncs: () => bankSyncs.map((sync) => ({ ...sync })),
    clearRequests: () => {
      requests.length = 0;
    },
    faults,
    connection: (id) => mustConnection(id).seed.connection,
    accounts: (id) => mustConnection(id).seed.accounts,
    account: (id) => {
      const found = accountsById.get(id);
      if (!found) throw new Error(`Sandbox has no account ${id}`);
      return found.account;
    },
    setConnectionState: (id, state, errorMessage) => {
      const c = mustConnection(id).seed.connection;
      c.state = state;
      c.error = state;
      if (errorMessage !== undefined) c.error_message = errorMessage;
      else if (state === null) c.error_message = null;
    },
    scriptSync: (id, script) => {
      mustConnection(id).seed.sync = structuredClone(script);
    },
    holdSyncs: (id) => {
      const live = mustConnection(id);
      const gate = deferred();
      const started = deferred();
      live.hold = { promise: gate.promise, release: gate.resolve, notifyStarted: started.resolve };
      pendingWaits.add(gate.resolve);
      return {
        started: started.promise,
        release: () => {
          pendingWaits.delete(gate.resolve);
          if (live.hold?.promise === gate.promise) delete live.hold;
          gate.resolve();
        },
      };
    },
    inFlightSyncs: () => [...connections.values()].filter((c) => c.inFlight).map((c) => c.seed.connection.id),
    autoSync: async (id) => {
      const out = await runSync(mustConnection(id), {
        userPresent: false,
        resolvesUserAction: false,
        background: false,
        expand: new Set(),
        trigger: 'auto',
      });
      return out.body;
    },
    webhookDeliveries: () => deliveries.map((d) => ({ ...d })),
    flushWebhooks: async () => {
      while (pendingDeliveries.size > 0) await Promise.all([...pendingDeliveries]);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      webhookAbort.abort();
      for (const timer of timers) clearTimeout(timer);
      for (const resolve of [...pendingWaits]) resolve();
      timers.clear();
      pendingWaits.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets and hung responses would keep server.close() (and jest) waiting.
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
  return api;
}

/** Recorded bodies must not keep client secrets around (they are served back by /__sandbox/requests). */
function redactBody(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const key of ['client_secret', 'password', 'code']) if (key in copy) copy[key] = '[redacted]';
  return copy;
}

export type { SandboxFault, FaultRule } from './faults';
