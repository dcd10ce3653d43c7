/**
 * `PUT /users/{userId}`, `DELETE /users/{userId}`, `GET /users`: the user registry over the IAM-authenticated API.
 * The token is write-only: it goes in with PUT (encrypted before it is stored) and never comes back out, in any
 * answer or log. Registry validation errors become 400 BadRequest with the registry's message (it names fields, never
 * values).
 *
 * DELETE stops serving the user: its registry item goes first (so no new refresh or webhook serves it), then its
 * latest balances leave /balances and /positions (excluded as `user_removed`, history kept), as USER_DELETED does, and
 * its connection-health items are deleted (gone from /connections; registered again, it counts as never observed).
 * A PUT of the same user and a refresh bring them back (balance-store.ts lifts `user_removed` on the same balance).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { BalanceStore } from '../core/adapters/dynamodb/balance-store';
import type { ConnectionHealthStore } from '../core/adapters/dynamodb/connection-health';
import { toStepError, ValidationFailedError } from '../core/errors';
import { logger } from '../core/observability';
import { type UserPut, type UserRegistry, validateUserId } from '../core/adapters/dynamodb/user-registry';
import { ApiError, badRequest, notFound, requestBody } from './http';

const PUT_FIELDS = ['token', 'label', 'status'];

/** What the /users routes use: the registry, and for DELETE the balance store (exclusion) and connection health. */
export interface UserRoutesDeps {
  registry: UserRegistry;
  balances: Pick<BalanceStore, 'excludeLatest'>;
  health: Pick<ConnectionHealthStore, 'forgetUser'>;
  tenantId: string;
  now: () => Date;
}

async function asApiErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ValidationFailedError) throw badRequest(error.message);
    throw error;
  }
}

function registryOrFail(users: UserRoutesDeps | undefined): UserRoutesDeps {
  if (users === undefined) {
    throw new ApiError(
      500,
      'ConfigurationError',
      'The user registry is not configured for this API (TOKEN_KMS_KEY_ID).',
    );
  }
  return users;
}

function pathUserId(event: APIGatewayProxyEvent): number {
  try {
    return validateUserId(event.pathParameters?.userId ?? '');
  } catch {
    throw badRequest('The path must be /users/{userId} with a positive integer Powens user id.');
  }
}

/** Shape only: field values (label, status, token length) are the registry's validatePut, answered 400 by putUser. */
function parseUserBody(userId: number, text: string | null): UserPut {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    // No parser message: it could quote part of the token.
    throw badRequest(
      'Request body is not valid JSON. Send {"token": "...", "label"?: "...", "status"?: "active"|"disabled"}.',
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('Request body must be a JSON object.');
  const body = value as Record<string, unknown>;
  const unknown = Object.keys(body).filter((k) => !PUT_FIELDS.includes(k));
  if (unknown.length > 0) {
    throw badRequest(
      `Unknown field(s) ${unknown
        .slice(0, 5)
        .map((k) => JSON.stringify(k.slice(0, 40)))
        .join(', ')}; allowed: ${PUT_FIELDS.join(', ')}.`,
    );
  }
  if (typeof body.token !== 'string')
    throw badRequest('token is required: the Powens permanent user token (a string).');
  return {
    userId,
    token: body.token,
    ...(body.label === undefined ? {} : { label: body.label as string }),
    ...(body.status === undefined ? {} : { status: body.status as UserPut['status'] }),
  };
}

export async function putUser(deps: UserRoutesDeps | undefined, event: APIGatewayProxyEvent) {
  const { registry } = registryOrFail(deps);
  const put = parseUserBody(pathUserId(event), requestBody(event));
  const { created, user } = await asApiErrors(() => registry.put(put));
  return { statusCode: created ? 201 : 200, body: { created, user } };
}

/**
 * 204 when it removed the registry item, excluded a balance or forgot a connection, 404 when there was none of these
 * (nothing changed). Every step is idempotent, so a DELETE repeated after a failure finishes the job: if the exclusion
 * or the forgetting fails once the item is gone, the answer is 503 (500 for a non-retryable cause) saying so, and the
 * next DELETE does what is left (204). Repeating DELETE also takes out a balance a refresh already running when the
 * user was removed stored afterwards.
 */
export async function deleteUser(deps: UserRoutesDeps | undefined, event: APIGatewayProxyEvent): Promise<void> {
  const userId = pathUserId(event);
  const { registry, balances, health, tenantId, now } = registryOrFail(deps);
  const removed = await registry.delete(userId);
  let accountsExcluded: number;
  let connectionsForgotten: number;
  try {
    accountsExcluded = await balances.excludeLatest(
      tenantId,
      { powensUserId: userId },
      { reason: 'user_removed', at: now().toISOString() },
    );
    connectionsForgotten = await health.forgetUser(tenantId, userId);
  } catch (error) {
    const cause = toStepError(error);
    logger.error('DELETE /users: balances or connections not removed', { userId, removed, errorName: cause.name });
    throw new ApiError(
      cause.retryable ? 503 : 500,
      cause.retryable ? 'ServiceUnavailable' : 'InternalError',
      `User ${userId} is out of the registry, but its balances and connections could not all be taken out of ` +
        `/balances, /positions and /connections (${cause.name}); nothing is lost: retry DELETE /users/${userId}.`,
    );
  }
  if (!removed && accountsExcluded === 0 && connectionsForgotten === 0) {
    throw notFound(`User ${userId} is not in the registry.`);
  }
  logger.info('user removed', { userId, removed, accountsExcluded, connectionsForgotten });
}

export async function listUsers(deps: UserRoutesDeps | undefined, event: APIGatewayProxyEvent) {
  const query = event.queryStringParameters ?? {};
  const limit = query.limit === undefined ? 100 : Number(query.limit);
  const { registry } = registryOrFail(deps);
  return asApiErrors(() =>
    registry.listPage({ limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) }),
  );
}
