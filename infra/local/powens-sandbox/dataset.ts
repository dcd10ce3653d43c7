/**
 * Data the Powens sandbox serves: users with permanent tokens, their connections and bank accounts, in Powens'
 * own wire shapes (lambdas/core/adapters/powens/types.ts), plus per-connection sync scripts. Plain data, so a dataset can
 * be written by hand (./family-office.ts), generated (generateDataset, for benchmarks) or loaded from JSON.
 */
import { formatPowensDateTime } from '../../../lambdas/core/adapters/powens/datetime';
import type {
  ConnectionState,
  PowensAccountType,
  PowensAccountUsage,
  PowensBankAccount,
  PowensConnection,
  PowensCurrency,
} from '../../../lambdas/core/adapters/powens/types';

/** What a forced sync of one connection does. */
export interface SandboxSyncScript {
  /** How long the sync blocks before answering (overrides the sandbox-wide syncLatencyMs). */
  latencyMs?: number;
  /** Outcomes consumed one per sync (null = success); once empty, `outcome` applies. */
  outcomes?: (ConnectionState | null)[];
  /** Steady outcome of every sync (default null: success). */
  outcome?: ConnectionState | null;
  /** Fixed balance move per successful sync for every enabled account; default: the seeded PRNG. */
  balanceDelta?: number;
}

export interface SandboxConnectionSeed {
  /** The Connection as Powens returns it (without expands: `accounts` comes from the list below). */
  connection: PowensConnection;
  accounts: PowensBankAccount[];
  sync?: SandboxSyncScript;
}

export interface SandboxUserSeed {
  id: number;
  /** Permanent user token (a secret in real life; fixed here so tests and `npm start` can use it). */
  token: string;
  /** Human label, e.g. "Claire Martin"; only used in the Powens secret. */
  label: string;
  signin: string;
  connections: SandboxConnectionSeed[];
}

export interface SandboxDataset {
  clientId: string;
  clientSecret: string;
  /** Seed of the PRNG that moves balances on each successful sync. */
  seed: number;
  users: SandboxUserSeed[];
}

/** Shape of the Powens secret (Secrets Manager in AWS, a local file for `npm start`). */
export interface PowensSecret {
  clientId: string;
  clientSecret: string;
  users: { userId: number; token: string; label: string }[];
  /** HMAC key the sandbox signs its webhooks with (Powens' `secret_key` of an hmac_signature auth provider). */
  webhookSecret: string;
}

export function secretFor(dataset: SandboxDataset): PowensSecret {
  return {
    clientId: dataset.clientId,
    clientSecret: dataset.clientSecret,
    users: dataset.users.map((u) => ({ userId: u.id, token: u.token, label: u.label })),
    webhookSecret: `sbx-webhook-${dataset.clientSecret}`,
  };
}

/** mulberry32: tiny, fast, good enough for deterministic test data; NOT for anything secret. */
export function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const CURRENCIES: Readonly<Record<string, PowensCurrency>> = {
  EUR: {
    id: 'EUR',
    symbol: '€',
    prefix: false,
    crypto: false,
    precision: 2,
    marketcap: null,
    datetime: null,
    name: 'Euro',
  },
  USD: {
    id: 'USD',
    symbol: '$',
    prefix: true,
    crypto: false,
    precision: 2,
    marketcap: null,
    datetime: null,
    name: 'US Dollar',
  },
  CHF: {
    id: 'CHF',
    symbol: 'CHF',
    prefix: false,
    crypto: false,
    precision: 2,
    marketcap: null,
    datetime: null,
    name: 'Swiss Franc',
  },
  GBP: {
    id: 'GBP',
    symbol: '£',
    prefix: true,
    crypto: false,
    precision: 2,
    marketcap: null,
    datetime: null,
    name: 'British Pound',
  },
};

/** id_type values of Powens' /account_types for the types we seed. */
const ACCOUNT_TYPE_IDS: Record<string, number> = {
  checking: 1,
  savings: 2,
  deposit: 3,
  loan: 4,
  market: 5,
  joint: 6,
  card: 7,
  lifeinsurance: 8,
  pea: 9,
  unknown: 99,
};

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const dt = (date: Date): string => formatPowensDateTime(date);
export const ago = (now: Date, ms: number): string => dt(new Date(now.getTime() - ms));
export const inFuture = (now: Date, ms: number): string => dt(new Date(now.getTime() + ms));

export interface AccountSpec {
  id: number;
  name: string;
  type: PowensAccountType;
  currency: string;
  balance: number;
  coming?: number | null;
  number?: string | null;
  iban?: string | null;
  usage?: PowensAccountUsage;
  disabled?: string | null;
  deleted?: string | null;
  lastUpdate?: string | null;
  companyName?: string | null;
  idParent?: number | null;
}

export function makeAccount(connection: PowensConnection, spec: AccountSpec): PowensBankAccount {
  const currency = CURRENCIES[spec.currency];
  if (currency === undefined) {
    throw new Error(`Unknown sandbox currency ${JSON.stringify(spec.currency)}; add it to CURRENCIES in dataset.ts`);
  }
  return {
    id: spec.id,
    id_connection: connection.id,
    id_user: connection.id_user,
    // One source per connection in the sandbox; the OpenAPI requires id_source to be an Id.
    id_source: connection.id,
    id_parent: spec.idParent ?? null,
    number: spec.number ?? String(spec.id).padStart(11, '0'),
    iban: spec.iban ?? null,
    original_name: spec.name.toUpperCase(),
    name: spec.name,
    balance: spec.balance,
    coming: spec.coming ?? null,
    currency: { ...currency },
    type: spec.type,
    id_type: ACCOUNT_TYPE_IDS[spec.type] ?? 99,
    usage: spec.usage ?? 'PRIV',
    display: true,
    bookmarked: false,
    last_update: spec.lastUpdate === undefined ? connection.last_update : spec.lastUpdate,
    deleted: spec.deleted ?? null,
    disabled: spec.disabled ?? null,
    error: null,
    company_name: spec.companyName ?? null,
  };
}

export interface ConnectionSpec {
  id: number;
  userId: number;
  idConnector: number;
  connectorUuid: string;
  state?: ConnectionState | null;
  errorMessage?: string | null;
  created: string;
  lastUpdate: string | null;
  nextTry?: string | null;
  expire?: string | null;
  active?: boolean;
}

export function makeConnection(spec: ConnectionSpec): PowensConnection {
  const state = spec.state ?? null;
  return {
    id: spec.id,
    id_user: spec.userId,
    id_connector: spec.idConnector,
    connector_uuid: spec.connectorUuid,
    state,
    error: state,
    error_message: spec.errorMessage ?? null,
    fields: null,
    last_update: spec.lastUpdate,
    created: spec.created,
    active: spec.active ?? true,
    last_push: spec.lastUpdate,
    expire: spec.expire ?? null,
    next_try: spec.nextTry ?? null,
  };
}

export interface GenerateDatasetOptions {
  users: number;
  connectionsPerUser: number;
  accountsPerConnection: number;
  /** Currencies cycled over accounts (default ['EUR']). */
  currencies?: string[];
  seed?: number;
  /** Instant the generated timestamps are relative to (default 2025-06-02T06:00:00Z). */
  now?: Date;
  /** Put every Nth connection in SCARequired (default 0: none). */
  scaRequiredEvery?: number;
  firstUserId?: number;
}

const GENERATED_TYPES: PowensAccountType[] = ['checking', 'savings', 'card', 'market', 'lifeinsurance'];

/**
 * Deterministic synthetic dataset for benchmarks (10,000 accounts in a few ms). Same options + seed → same data,
 * including the tokens, so a benchmark run can be replayed.
 */
export function generateDataset(options: GenerateDatasetOptions): SandboxDataset {
  const seed = options.seed ?? 1;
  const rand = createPrng(seed);
  const now = options.now ?? new Date('2025-06-02T06:00:00Z');
  const currencies = options.currencies ?? ['EUR'];
  if (currencies.length === 0) throw new Error('generateDataset: currencies must not be empty');
  const firstUserId = options.firstUserId ?? 10_000;
  let connectionId = firstUserId * 10;
  let accountId = firstUserId * 100;
  let connectionIndex = 0;
  const users: SandboxUserSeed[] = [];
  for (let u = 0; u < options.users; u++) {
    const userId = firstUserId + u;
    const token = `gen_${seed}_${userId}_${Math.floor(rand() * 0xffffffff)
      .toString(16)
      .padStart(8, '0')}`;
    const connections: SandboxConnectionSeed[] = [];
    for (let c = 0; c < options.connectionsPerUser; c++) {
      connectionIndex++;
      const sca =
        options.scaRequiredEvery !== undefined &&
        options.scaRequiredEvery > 0 &&
        connectionIndex % options.scaRequiredEvery === 0;
      const connection = makeConnection({
        id: ++connectionId,
        userId,
        idConnector: 40 + (c % 7),
        connectorUuid: `00000000-0000-4000-8000-${String(40 + (c % 7)).padStart(12, '0')}`,
        state: sca ? 'SCARequired' : null,
        created: ago(now, 400 * DAY_MS),
        lastUpdate: ago(now, Math.floor((sca ? 10 * DAY_MS : DAY_MS) + rand() * 6 * HOUR_MS)),
        nextTry: sca ? null : inFuture(now, Math.floor(rand() * 12 * HOUR_MS)),
        expire: inFuture(now, 90 * DAY_MS),
      });
      const accounts: PowensBankAccount[] = [];
      for (let a = 0; a < options.accountsPerConnection; a++) {
        const type = GENERATED_TYPES[a % GENERATED_TYPES.length] ?? 'checking';
        const magnitude = type === 'card' ? -rand() * 2_000 : rand() * 250_000;
        accounts.push(
          makeAccount(connection, {
            id: ++accountId,
            name: `${type} ${accountId}`,
            type,
            currency: currencies[accountId % currencies.length] ?? 'EUR',
            balance: Math.round(magnitude * 100) / 100,
          }),
        );
      }
      connections.push({ connection, accounts });
    }
    users.push({ id: userId, token, label: `Generated user ${userId}`, signin: ago(now, 500 * DAY_MS), connections });
  }
  return { clientId: `gen-client-${seed}`, clientSecret: `gen-secret-${seed}`, seed, users };
}
