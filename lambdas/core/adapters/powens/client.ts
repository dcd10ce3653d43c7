/**
 * HTTP implementation of PowensApi on Node's global fetch (undici).
 *
 * Deliberately no retries: the state machine owns retry policy (Step Functions `Retry` on the error names of
 * ../errors.ts), so a retry here would multiply attempts behind its back and, for a forced sync, spend the PSD2
 * unattended quota twice. The client's whole job is one request → one classified outcome.
 *
 * Secrets: the user token only ever goes into the Authorization header. Error messages and details are built from
 * method, path, HTTP status and the Powens error body (code/description/request_id) — never from headers.
 */
import {
  BadGatewayError,
  BadRequestError,
  ConfigurationError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ServiceUnavailableError,
  type StepError,
  type StepErrorOptions,
  TimeoutError,
  UnauthenticatedError,
} from '../../errors';
import type { PowensApi, PowensUserCredentials, SyncResult } from './client-contract';
import type { RateBudget } from './rate-budget';
import type {
  PowensAccountsList,
  PowensBankAccount,
  PowensConnection,
  PowensConnectionsList,
  PowensLinks,
  PowensUser,
  ServiceError,
} from './types';

export interface RetryAfterInfo {
  method: string;
  path: string;
  status: number;
  retryAfterMs: number;
}

export interface PowensClientOptions {
  /** Full API root, e.g. `https://acme-sandbox.biapi.pro/2.0` (path prefix kept; trailing slash optional). */
  baseUrl: string;
  /** Per-request timeout for reads. */
  timeoutMs: number;
  /** Timeout for the forced sync (PUT), which blocks while Powens logs in to the bank: allow minutes. */
  syncTimeoutMs: number;
  /** Injected for tests of transport edge cases; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Observability hook: Step Functions cannot honour Retry-After, so callers may log/metric it. */
  onRetryAfter?: (info: RetryAfterInfo) => void;
  /** Upper bound on `_links.next` pages followed for one list call (default 100). */
  maxPages?: number;
  /** Clock used to turn an HTTP-date Retry-After into a delay (default Date.now). */
  now?: () => number;
  /**
   * Shared per-client call budget (./rate-budget.ts): every HTTP request, page follow-ups included, waits for its
   * slot first, telling the budget its timeout (the slot must leave room for the call before the invocation ends).
   * Its RateLimited error (no slot within the invocation's time) propagates like Powens' own 429.
   */
  rateBudget?: Pick<RateBudget, 'acquire'>;
}

/** The concrete client: PowensApi plus a few reads the sandbox tests and operators use. */
export interface PowensClient extends PowensApi {
  /** GET /users/me — cheap token check. */
  getMe(user: PowensUserCredentials): Promise<PowensUser>;
  /** GET /users/{id}/accounts/{aid}[?all]. */
  getAccount(user: PowensUserCredentials, accountId: number, options?: { all?: boolean }): Promise<PowensBankAccount>;
}

const DEFAULT_MAX_PAGES = 100;

/**
 * Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns milliseconds (≥ 0), or
 * undefined when absent or unparseable — a garbage header must not turn a 429 into a different error.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // Only accept things that look like an HTTP-date, so "soon" or "-5" do not slip through Date.parse.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function normaliseBaseUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ConfigurationError(
      `Powens baseUrl ${JSON.stringify(baseUrl)} is not an absolute URL; expected e.g. https://<domain>.biapi.pro/2.0`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigurationError(
      `Powens baseUrl ${JSON.stringify(baseUrl)} must use https (or http for a local sandbox)`,
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ConfigurationError(`Powens baseUrl ${JSON.stringify(baseUrl)} must not carry a query or fragment`);
  }
  // Keep `/2.0`: `new URL('/users/..', base)` would drop it (the ContractSpec client's bug, semantics doc §3.4),
  // so paths are appended to the prefix as strings instead.
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

function isServiceError(body: unknown): body is ServiceError {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Duck-typed on purpose: undici's errors may come from another realm (jest's VM, a bundled copy), where
 * `instanceof Error` is false.
 */
function errorCode(value: unknown): string | undefined {
  const code = isRecord(value) ? value.code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** The most specific network code in an undici error chain (TypeError → cause (→ AggregateError.errors)). */
function describeCause(error: unknown): string {
  const cause = isRecord(error) ? error.cause : undefined;
  const nested = isRecord(cause) && Array.isArray(cause.errors) ? cause.errors[0] : undefined;
  const name = isRecord(error) && typeof error.name === 'string' ? error.name : typeof error;
  return errorCode(cause) ?? errorCode(nested) ?? errorCode(error) ?? name;
}

function isAbortOrTimeout(error: unknown): boolean {
  return isRecord(error) && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

interface RequestSpec {
  method: 'GET' | 'PUT' | 'POST';
  /** Path below the base URL, starting with `/` (for messages and for building the URL). */
  path: string;
  /** Absolute URL to use instead of base + path (a `_links.next` href). */
  absoluteUrl?: URL;
  token: string;
  timeoutMs: number;
  body?: unknown;
  /** After the rate-budget slot, before the request leaves (see PowensApi.syncConnection). */
  beforeSend?: () => Promise<void>;
}

interface RawResponse {
  status: number;
  body: unknown;
}

export function createPowensClient(options: PowensClientOptions): PowensClient {
  const base = normaliseBaseUrl(options.baseUrl);
  const doFetch = options.fetch ?? fetch;
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  const now = options.now ?? Date.now;
  for (const [name, value] of [
    ['timeoutMs', options.timeoutMs],
    ['syncTimeoutMs', options.syncTimeoutMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new ConfigurationError(
        `Powens client ${name} must be a positive number of milliseconds, got ${String(value)}`,
      );
    }
  }

  const urlFor = (path: string): URL => {
    const url = new URL(base.href);
    const [pathname, query] = path.split('?', 2);
    url.pathname = `${base.pathname}${pathname ?? ''}`;
    if (query !== undefined) url.search = `?${query}`;
    return url;
  };

  /** Builds the named error for a non-2xx answer. `label` is "METHOD /path" (ids included, never the token). */
  const errorForStatus = (label: string, status: number, body: unknown, headers: Headers): StepError => {
    const serviceError = isServiceError(body) ? body : undefined;
    const code = serviceError?.code;
    const requestId = serviceError?.request_id ?? headers.get('x-request-id') ?? undefined;
    const powensText = serviceError
      ? `: ${serviceError.code}${serviceError.description ? ` (${serviceError.description})` : ''}`
      : '';
    const details: Record<string, unknown> = { status };
    if (code !== undefined) details.code = code;
    if (requestId !== undefined && requestId !== null) details.requestId = requestId;
    const message = `Powens ${label} answered HTTP ${status}${powensText}`;
    const opts: StepErrorOptions = { details };
    switch (status) {
      case 401:
        return new UnauthenticatedError(
          `${message}; the user token is missing, revoked or wrong — renew it (POST /auth/renew)`,
          opts,
        );
      case 403:
        return new ForbiddenError(`${message}; the token lacks the scope for this call`, opts);
      case 404:
        return new NotFoundError(`${message}; the resource does not exist for this user token`, opts);
      case 409:
        return new ConflictError(`${message}; a sync of this connection is probably already running`, opts);
      case 429: {
        const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now());
        if (retryAfterMs !== undefined) opts.retryAfterMs = retryAfterMs;
        return new RateLimitedError(
          `${message}${retryAfterMs !== undefined ? `; Powens asks to retry after ${retryAfterMs} ms` : ''}`,
          opts,
        );
      }
      case 502:
        return new BadGatewayError(message, opts);
      case 504:
        return new TimeoutError(message, opts);
      default:
        if (status >= 500) {
          const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now());
          if (retryAfterMs !== undefined) opts.retryAfterMs = retryAfterMs;
          return new ServiceUnavailableError(message, opts);
        }
        return new BadRequestError(message, opts);
    }
  };

  const request = async (spec: RequestSpec): Promise<RawResponse> => {
    const label = `${spec.method} ${spec.path}`;
    const url = spec.absoluteUrl ?? urlFor(spec.path);
    // Before the timeout starts: waiting for a token is not time Powens spends answering.
    if (options.rateBudget) await options.rateBudget.acquire(label, { timeoutMs: spec.timeoutMs });
    await spec.beforeSend?.();
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${spec.token}`,
    };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(spec.timeoutMs);

    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal,
        redirect: 'error',
      });
      // The body read shares the signal: a server that sends headers and then stalls is a timeout too.
      text = await response.text();
    } catch (error) {
      if (isAbortOrTimeout(error) || signal.aborted) {
        throw new TimeoutError(`Powens ${label} did not answer within ${spec.timeoutMs} ms`, {
          details: { timeoutMs: spec.timeoutMs },
        });
      }
      // undici wraps socket failures (ECONNRESET, ECONNREFUSED, "other side closed") in TypeError('fetch failed').
      const network = describeCause(error);
      throw new ServiceUnavailableError(
        `Powens ${label} failed before an HTTP answer (${network}); the service is unreachable or reset the connection`,
        { details: { network } },
      );
    }

    let body: unknown;
    let parsed = false;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
        parsed = true;
      } catch {
        parsed = false;
      }
    }
    if (response.status >= 400) {
      const error = errorForStatus(label, response.status, parsed ? body : undefined, response.headers);
      if (error.retryAfterMs !== undefined && options.onRetryAfter) {
        options.onRetryAfter({
          method: spec.method,
          path: spec.path,
          status: response.status,
          retryAfterMs: error.retryAfterMs,
        });
      }
      throw error;
    }
    if (response.status < 200 || response.status > 299) {
      throw new BadGatewayError(`Powens ${label} answered unexpected HTTP ${response.status}`, {
        details: { status: response.status },
      });
    }
    if (!parsed) {
      throw new BadGatewayError(
        `Powens ${label} answered HTTP ${response.status} with a body that is not JSON (${text.length} bytes)`,
        { details: { status: response.status, contentType: response.headers.get('content-type') } },
      );
    }
    return { status: response.status, body };
  };

  const malformed = (label: string, what: string): BadGatewayError =>
    new BadGatewayError(`Powens ${label} answered a body without ${what}; it does not look like Powens API 2.0`);

  const asConnection = (label: string, body: unknown): PowensConnection => {
    if (!isRecord(body) || typeof body.id !== 'number') throw malformed(label, 'a numeric connection `id`');
    return body as unknown as PowensConnection;
  };

  /** Resolves a `_links.next` href against the base and refuses to send the token to another origin. */
  const nextUrl = (label: string, links: unknown): URL | undefined => {
    if (!isRecord(links)) return undefined;
    const next = (links as PowensLinks).next;
    if (!next || typeof next.href !== 'string' || next.href === '') return undefined;
    let url: URL;
    try {
      url = new URL(next.href, `${base.href}/`);
    } catch {
      throw new BadGatewayError(`Powens ${label} returned an unusable _links.next href`);
    }
    if (url.origin !== base.origin) {
      throw new BadGatewayError(
        `Powens ${label} returned _links.next on another origin (${url.origin}); not following it with the user token`,
      );
    }
    return url;
  };

  /**
   * The one pager: every page of a Powens list, following `_links.next` (same origin only, at most maxPages, never the
   * same page twice). `parse` checks each page's shape; `emptyOnFirstPage` turns a first-page error into "no pages".
   */
  const getAllPages = async <P extends { _links?: PowensLinks }>(
    label: string,
    path: string,
    token: string,
    parse: (body: unknown) => P,
    emptyOnFirstPage: (error: unknown) => boolean = () => false,
  ): Promise<P[]> => {
    const pages: P[] = [];
    const seen = new Set<string>();
    let absoluteUrl: URL | undefined;
    for (;;) {
      if (pages.length >= maxPages) {
        throw new BadGatewayError(`Powens ${label} kept returning _links.next after ${maxPages} pages; giving up`);
      }
      let body: unknown;
      try {
        ({ body } = await request({ method: 'GET', path, absoluteUrl, token, timeoutMs: options.timeoutMs }));
      } catch (error) {
        if (pages.length === 0 && emptyOnFirstPage(error)) return [];
        throw error;
      }
      const page = parse(body);
      pages.push(page);
      absoluteUrl = nextUrl(label, page._links);
      if (absoluteUrl === undefined) return pages;
      if (seen.has(absoluteUrl.href)) {
        throw new BadGatewayError(`Powens ${label} returned a _links.next that loops back to an earlier page`);
      }
      seen.add(absoluteUrl.href);
    }
  };

  const userPath = (user: PowensUserCredentials): string => `/users/${encodeURIComponent(String(user.userId))}`;

  const listConnections = async (user: PowensUserCredentials): Promise<PowensConnection[]> => {
    const path = `${userPath(user)}/connections`;
    const label = `GET ${path}`;
    const pages = await getAllPages(label, path, user.token, (body) => {
      if (!isRecord(body) || !Array.isArray(body.connections)) throw malformed(label, 'a `connections` array');
      return body as unknown as PowensConnectionsList;
    });
    return pages.flatMap((list) => list.connections.map((item) => asConnection(label, item)));
  };

  const getConnection = async (user: PowensUserCredentials, connectionId: number): Promise<PowensConnection> => {
    const path = `${userPath(user)}/connections/${encodeURIComponent(String(connectionId))}`;
    const { body } = await request({ method: 'GET', path, token: user.token, timeoutMs: options.timeoutMs });
    return asConnection(`GET ${path}`, body);
  };

  const syncConnection = async (
    user: PowensUserCredentials,
    connectionId: number,
    syncOptions: { psuRequested: boolean; beforeSend?: () => Promise<void> },
  ): Promise<SyncResult> => {
    // Always explicit: Powens defaults psu_requested to true, which may trigger an SCA on an unattended run.
    const path = `${userPath(user)}/connections/${encodeURIComponent(String(connectionId))}?psu_requested=${syncOptions.psuRequested ? 'true' : 'false'}`;
    const { status, body } = await request({
      method: 'PUT',
      path,
      token: user.token,
      timeoutMs: options.syncTimeoutMs,
      ...(syncOptions.beforeSend === undefined ? {} : { beforeSend: syncOptions.beforeSend }),
    });
    return { httpStatus: status === 202 ? 202 : 200, connection: asConnection(`PUT ${path}`, body) };
  };

  const listAccounts = async (
    user: PowensUserCredentials,
    listOptions: { connectionId?: number; expandConnection?: boolean } = {},
  ): Promise<PowensAccountsList> => {
    const path =
      (listOptions.connectionId === undefined
        ? `${userPath(user)}/accounts`
        : `${userPath(user)}/connections/${encodeURIComponent(String(listOptions.connectionId))}/accounts`) +
      (listOptions.expandConnection ? '?expand=connection' : '');
    const label = `GET ${path}`;
    const pages = await getAllPages(
      label,
      path,
      user.token,
      (body) => {
        if (!isRecord(body) || !Array.isArray(body.accounts)) throw malformed(label, 'an `accounts` array');
        for (const account of body.accounts) {
          if (!isRecord(account) || typeof account.id !== 'number') throw malformed(label, 'a numeric account `id`');
        }
        return body as unknown as PowensAccountsList;
      },
      // Powens answers 400 noAccount instead of an empty list (docs/powens-api.md §2.3); the contract says: empty list.
      (error) => error instanceof BadRequestError && error.details?.code === 'noAccount',
    );
    if (pages.length === 0) return { accounts: [], balances: {} };
    const [first] = pages;
    if (pages.length === 1 && first) return first;
    // Several pages: per-page totals are ambiguous (page or whole list?), so recompute them from the accounts.
    const accounts = pages.flatMap((p) => p.accounts);
    return {
      accounts,
      balances: totalsByCurrency(accounts, 'balance'),
      coming_balances: totalsByCurrency(accounts, 'coming'),
    };
  };

  const getMe = async (user: PowensUserCredentials): Promise<PowensUser> => {
    const path = '/users/me';
    const { body } = await request({ method: 'GET', path, token: user.token, timeoutMs: options.timeoutMs });
    if (!isRecord(body) || typeof body.id !== 'number') throw malformed(`GET ${path}`, 'a numeric user `id`');
    return body as unknown as PowensUser;
  };

  const getAccount = async (
    user: PowensUserCredentials,
    accountId: number,
    accountOptions: { all?: boolean } = {},
  ): Promise<PowensBankAccount> => {
    const path = `${userPath(user)}/accounts/${encodeURIComponent(String(accountId))}${accountOptions.all ? '?all' : ''}`;
    const { body } = await request({ method: 'GET', path, token: user.token, timeoutMs: options.timeoutMs });
    if (!isRecord(body) || typeof body.id !== 'number') throw malformed(`GET ${path}`, 'a numeric account `id`');
    return body as unknown as PowensBankAccount;
  };

  return { listConnections, getConnection, syncConnection, listAccounts, getMe, getAccount };
}

/** Per-currency sums, rounded to cents to avoid float dust (0.1 + 0.2). */
export function totalsByCurrency(
  accounts: readonly PowensBankAccount[],
  field: 'balance' | 'coming',
): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const account of accounts) {
    const amount = account[field];
    const currency = account.currency?.id;
    if (typeof amount !== 'number' || currency === undefined) continue;
    totals[currency] = Math.round(((totals[currency] ?? 0) + amount) * 100) / 100;
  }
  return totals;
}
