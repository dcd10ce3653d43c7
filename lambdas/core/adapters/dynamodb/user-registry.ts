/**
 * User registry: one item per Powens user of a tenant, in the balances table, replacing the secret's user list (a
 * Secrets Manager value holds 64 KB: a few hundred users at most).
 *
 * Item: pk `USERS#{tenantId}`, sk `USER#{userId, 16 digits}` (string order = numeric order, so pages come out sorted),
 * `userId`, `label`, `status` (active | disabled), `tokenCiphertext` (base64, from the key provider, bound to tenant +
 * user), `keyProvider`, `keyId`, `createdAt`, `updatedAt`. The plaintext token is never stored and never returned by
 * listing or reading a user; only credentials() decrypts, for the step Lambdas.
 *
 * Listing is a Query of one partition, page by page with an opaque cursor: what the fan-out's lister reads.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { settleWithConcurrency } from '../../concurrency';
import { ConfigurationError, ValidationFailedError } from '../../errors';
import type { TokenKeyProvider } from '../keys/token-key-provider';
import type { PowensSecretUser } from '../secrets/powens-secret';
import { conditionalWrite, dynamoSender, queryAllPages } from './errors';
import { tableKeys } from './table-schema';

export const USER_STATUSES = ['active', 'disabled'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** What the registry tells about a user; never the token. */
export interface RegisteredUser {
  userId: number;
  label?: string;
  status: UserStatus;
  createdAt: string;
  updatedAt: string;
  /** Powens deleted the user (USER_DELETED): disabled, token dropped, until an operator registers the id again. */
  powensDeletedAt?: string;
}

export interface UserPut {
  userId: number;
  token: string;
  label?: string;
  status?: UserStatus;
}

export interface UserPage {
  users: RegisteredUser[];
  /** Present when more users follow; pass it back as `cursor`. */
  cursor?: string;
}

export interface UserRegistry {
  readonly tenantId: string;
  /**
   * Creates or replaces the user (token re-encrypted); `created` is false for a replacement. `keepStatus` (the bulk
   * import): an existing user keeps its status and Powens-deletion mark, `user.status` only applies to a new one.
   */
  put(user: UserPut, options?: { keepStatus?: boolean }): Promise<{ created: boolean; user: RegisteredUser }>;
  /** Removes the user and its token; false when there was none. */
  delete(userId: number): Promise<boolean>;
  get(userId: number): Promise<RegisteredUser | undefined>;
  /**
   * Powens deleted the user: its token is dead. Disables an existing item and removes the ciphertext, so neither the
   * fan-out nor a step asks for it again; never creates an item. False when the user is not registered.
   */
  markDeletedAtPowens(userId: number, at: string): Promise<boolean>;
  listPage(options?: { limit?: number; cursor?: string; status?: UserStatus }): Promise<UserPage>;
  /**
   * Decrypted credentials of active users: the given ids (unknown or disabled ids are a ValidationFailed naming
   * them), or every active user when `userIds` is undefined.
   */
  credentials(userIds?: readonly number[]): Promise<PowensSecretUser[]>;
  /**
   * What credentials() builds on, without judging: active users decrypted, requested ids with no item (`missing`),
   * disabled ones, and every id that has an item (`registered`). The secret fallback uses it.
   */
  resolve(userIds?: readonly number[]): Promise<UserResolution>;
  readonly requestCount: number;
}

export interface UserResolution {
  users: PowensSecretUser[];
  missing: number[];
  disabled: number[];
  registered: number[];
}

export interface UserRegistryOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  tenantId: string;
  /**
   * Absent for readers that never touch a token (the webhook receiver, `npm run users -- list`): put() and
   * credentials() then fail with a ConfigurationError instead of encrypting or decrypting.
   */
  keys?: TokenKeyProvider;
  clock?: () => Date;
  /** Parallel GetItem + Decrypt calls in credentials() (default 8). */
  concurrency?: number;
}

export const MAX_USER_PAGE = 1000;
const MAX_LABEL_LENGTH = 200;
const MAX_TOKEN_LENGTH = 4096;

export function validateUserId(raw: unknown, where = 'userId'): number {
  const value = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationFailedError(`${where} must be a positive integer (the Powens user id).`);
  }
  return value;
}

function validatePut(user: UserPut): void {
  validateUserId(user.userId);
  if (typeof user.token !== 'string' || user.token.trim() === '' || user.token.length > MAX_TOKEN_LENGTH) {
    throw new ValidationFailedError(`token must be a non-empty string of at most ${MAX_TOKEN_LENGTH} characters.`);
  }
  if (user.label !== undefined && (typeof user.label !== 'string' || user.label.length > MAX_LABEL_LENGTH)) {
    throw new ValidationFailedError(`label must be a string of at most ${MAX_LABEL_LENGTH} characters.`);
  }
  if (user.status !== undefined && !(USER_STATUSES as readonly string[]).includes(user.status)) {
    throw new ValidationFailedError(`status must be one of ${USER_STATUSES.join(', ')}.`);
  }
}

function toRegisteredUser(item: Record<string, unknown>): RegisteredUser {
  const user: RegisteredUser = {
    userId: Number(item.userId),
    status: item.status === 'disabled' ? 'disabled' : 'active',
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
  };
  if (typeof item.label === 'string') user.label = item.label;
  if (typeof item.powensDeletedAt === 'string') user.powensDeletedAt = item.powensDeletedAt;
  return user;
}

function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key === undefined ? undefined : Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

const refuse = (): Promise<never> =>
  Promise.reject(
    new ConfigurationError('This user registry was opened without a token key: it cannot read or write tokens.'),
  );
const withoutTokenKey: TokenKeyProvider = { kind: 'local', keyId: 'none', encrypt: refuse, decrypt: refuse };

const PUBLIC_ATTRIBUTES = 'userId, label, #status, createdAt, updatedAt, powensDeletedAt';

export function createUserRegistry(options: UserRegistryOptions): UserRegistry {
  const { client, tableName, tenantId } = options;
  const keys = options.keys ?? withoutTokenKey;
  const clock = options.clock ?? (() => new Date());
  const concurrency = options.concurrency ?? 8;
  const sender = dynamoSender(tableName);
  const partition = tableKeys.userRegistryPartition(tenantId);

  const decodeCursor = (cursor: string): Record<string, unknown> => {
    let key: unknown;
    try {
      key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      key = undefined;
    }
    const record = key as Record<string, unknown> | undefined;
    if (
      typeof record !== 'object' ||
      record === null ||
      record.pk !== partition ||
      typeof record.sk !== 'string' ||
      Object.keys(record).length !== 2
    ) {
      throw new ValidationFailedError('cursor is not one this registry returned.');
    }
    return record;
  };

  const put: UserRegistry['put'] = async (user, putOptions = {}) => {
    const keepStatus = putOptions.keepStatus === true;
    validatePut(user);
    const now = clock().toISOString();
    const tokenCiphertext = await keys.encrypt(user.token, { tenantId, userId: user.userId });
    const removed = [...(keepStatus ? [] : ['powensDeletedAt']), ...(user.label === undefined ? ['label'] : [])];
    const result = await sender.send('UpdateItem', () =>
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: tableKeys.registeredUser(tenantId, user.userId),
          UpdateExpression:
            `SET userId = :id, #status = ${keepStatus ? 'if_not_exists(#status, :status)' : ':status'}, ` +
            'tokenCiphertext = :ct, keyProvider = :kind, keyId = :keyId, ' +
            'updatedAt = :now, createdAt = if_not_exists(createdAt, :now)' +
            (user.label === undefined ? '' : ', label = :label') +
            (removed.length === 0 ? '' : ` REMOVE ${removed.join(', ')}`),
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':id': user.userId,
            ':status': user.status ?? 'active',
            ':ct': tokenCiphertext,
            ':kind': keys.kind,
            ':keyId': keys.keyId,
            ':now': now,
            ...(user.label === undefined ? {} : { ':label': user.label }),
          },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    const previous = result.Attributes as Record<string, unknown> | undefined;
    const kept = keepStatus && previous !== undefined ? toRegisteredUser(previous) : undefined;
    const stored: RegisteredUser = {
      userId: user.userId,
      status: kept?.status ?? user.status ?? 'active',
      createdAt: typeof previous?.createdAt === 'string' ? previous.createdAt : now,
      updatedAt: now,
    };
    if (user.label !== undefined) stored.label = user.label;
    if (kept?.powensDeletedAt !== undefined) stored.powensDeletedAt = kept.powensDeletedAt;
    return { created: previous === undefined, user: stored };
  };

  const remove: UserRegistry['delete'] = async (userId) => {
    validateUserId(userId);
    const result = await sender.send('DeleteItem', () =>
      client.send(
        new DeleteCommand({
          TableName: tableName,
          Key: tableKeys.registeredUser(tenantId, userId),
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    return result.Attributes !== undefined;
  };

  const markDeletedAtPowens: UserRegistry['markDeletedAtPowens'] = async (userId, at) => {
    validateUserId(userId);
    const written = await conditionalWrite(sender, 'UpdateItem', () =>
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: tableKeys.registeredUser(tenantId, userId),
          UpdateExpression: 'SET #status = :disabled, powensDeletedAt = :at, updatedAt = :now REMOVE tokenCiphertext',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':disabled': 'disabled', ':at': at, ':now': clock().toISOString() },
        }),
      ),
    );
    return written !== undefined;
  };

  const getItem = async (userId: number, withToken: boolean): Promise<Record<string, unknown> | undefined> => {
    const { Item } = await sender.send('GetItem', () =>
      client.send(
        new GetCommand({
          TableName: tableName,
          Key: tableKeys.registeredUser(tenantId, userId),
          ...(withToken
            ? {}
            : { ProjectionExpression: PUBLIC_ATTRIBUTES, ExpressionAttributeNames: { '#status': 'status' } }),
        }),
      ),
    );
    return Item as Record<string, unknown> | undefined;
  };

  const get: UserRegistry['get'] = async (userId) => {
    const item = await getItem(validateUserId(userId), false);
    return item === undefined ? undefined : toRegisteredUser(item);
  };

  const queryInput = (withToken: boolean, status?: UserStatus): QueryCommandInput => {
    // DynamoDB rejects unused names: only declare #status when an expression mentions it.
    const usesStatus = status !== undefined || !withToken;
    return {
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': partition, ...(status === undefined ? {} : { ':status': status }) },
      ...(usesStatus ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
      ...(status === undefined ? {} : { FilterExpression: '#status = :status' }),
      ...(withToken ? {} : { ProjectionExpression: PUBLIC_ATTRIBUTES }),
    };
  };

  const listPage: UserRegistry['listPage'] = async (pageOptions = {}) => {
    const limit = pageOptions.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_USER_PAGE) {
      throw new ValidationFailedError(`limit must be an integer in 1..${MAX_USER_PAGE}.`);
    }
    const startKey = pageOptions.cursor === undefined ? undefined : decodeCursor(pageOptions.cursor);
    const page = await sender.send('Query', () =>
      client.send(
        new QueryCommand({ ...queryInput(false, pageOptions.status), Limit: limit, ExclusiveStartKey: startKey }),
      ),
    );
    const cursor = encodeCursor(page.LastEvaluatedKey);
    return {
      users: ((page.Items ?? []) as Record<string, unknown>[]).map(toRegisteredUser),
      ...(cursor === undefined ? {} : { cursor }),
    };
  };

  const decrypt = async (item: Record<string, unknown>): Promise<PowensSecretUser> => {
    if (options.keys === undefined) return refuse();
    const user = toRegisteredUser(item);
    if (item.keyProvider !== keys.kind) {
      throw new ConfigurationError(
        `User ${user.userId}'s token was stored with the ${String(item.keyProvider)} key provider, this deployment uses ` +
          `${keys.kind}; store the token again (PUT /users/${user.userId}).`,
      );
    }
    const token = await keys.decrypt(String(item.tokenCiphertext), { tenantId, userId: user.userId });
    return user.label === undefined
      ? { userId: user.userId, token }
      : { userId: user.userId, token, label: user.label };
  };

  const resolve: UserRegistry['resolve'] = async (userIds) => {
    let items: Record<string, unknown>[] = [];
    const missing: number[] = [];
    const disabled: number[] = [];
    if (userIds === undefined) {
      items = await queryAllPages(sender, client, { ...queryInput(true), Limit: MAX_USER_PAGE });
    } else {
      const ids = userIds.map((id, i) => validateUserId(id, `userIds[${i}]`));
      const found = await settleWithConcurrency(ids, concurrency, (id) => getItem(id, true));
      found.forEach((result, i) => {
        if (result.status === 'rejected') throw result.reason;
        if (result.value === undefined) missing.push(ids[i] as number);
        else items.push(result.value);
      });
    }
    const registered = items.map((item) => Number(item.userId));
    items = items.filter((item) => {
      if (item.status === 'active') return true;
      disabled.push(Number(item.userId));
      return false;
    });
    const decrypted = await settleWithConcurrency(items, concurrency, decrypt);
    const users = decrypted.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    });
    return { users, missing, disabled, registered };
  };

  const credentials: UserRegistry['credentials'] = async (userIds) => {
    const { users, missing, disabled } = await resolve(userIds);
    const refused = userIds === undefined ? [] : [...missing, ...disabled].sort((a, b) => a - b);
    if (refused.length > 0) {
      throw new ValidationFailedError(
        `input.userIds contains user id(s) not active in the user registry: ${refused.join(', ')}.`,
        { details: { unknownUserIds: refused } },
      );
    }
    return users;
  };

  return {
    tenantId,
    put,
    delete: remove,
    get,
    markDeletedAtPowens,
    listPage,
    credentials,
    resolve,
    get requestCount() {
      return sender.requestCount;
    },
  };
}
