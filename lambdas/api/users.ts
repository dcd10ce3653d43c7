/**
 * `PUT /users/{userId}`, `DELETE /users/{userId}`, `GET /users`: the user registry over the IAM-authenticated API.
 * The token is write-only: it goes in with PUT (encrypted before it is stored) and never comes back out, in any
 * answer or log. Registry validation errors become 400 BadRequest with the registry's message (it names fields, never
 * values).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ValidationFailedError } from '../core/errors';
import {
  USER_STATUSES,
  type UserPut,
  type UserRegistry,
  validateUserId,
} from '../core/adapters/dynamodb/user-registry';
import { ApiError, badRequest, notFound, requestBody } from './http';

const PUT_FIELDS = ['token', 'label', 'status'];

async function asApiErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ValidationFailedError) throw badRequest(error.message);
    throw error;
  }
}

function registryOrFail(registry: UserRegistry | undefined): UserRegistry {
  if (registry === undefined) {
    throw new ApiError(
      500,
      'ConfigurationError',
      'The user registry is not configured for this API (TOKEN_KMS_KEY_ID).',
    );
  }
  return registry;
}

function pathUserId(event: APIGatewayProxyEvent): number {
  try {
    return validateUserId(event.pathParameters?.userId ?? '');
  } catch {
    throw badRequest('The path must be /users/{userId} with a positive integer Powens user id.');
  }
}

export function parseUserBody(userId: number, text: string | null): UserPut {
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
  if (body.status !== undefined && !(USER_STATUSES as readonly unknown[]).includes(body.status)) {
    throw badRequest(`status must be one of ${USER_STATUSES.join(', ')}.`);
  }
  return {
    userId,
    token: body.token,
    ...(body.label === undefined ? {} : { label: body.label as string }),
    ...(body.status === undefined ? {} : { status: body.status as UserPut['status'] }),
  };
}

export async function putUser(registry: UserRegistry | undefined, event: APIGatewayProxyEvent) {
  const users = registryOrFail(registry);
  const put = parseUserBody(pathUserId(event), requestBody(event));
  const { created, user } = await asApiErrors(() => users.put(put));
  return { statusCode: created ? 201 : 200, body: { created, user } };
}

export async function deleteUser(registry: UserRegistry | undefined, event: APIGatewayProxyEvent): Promise<void> {
  const userId = pathUserId(event);
  if (!(await registryOrFail(registry).delete(userId))) throw notFound(`User ${userId} is not in the registry.`);
}

export async function listUsers(registry: UserRegistry | undefined, event: APIGatewayProxyEvent) {
  const query = event.queryStringParameters ?? {};
  const limit = query.limit === undefined ? 100 : Number(query.limit);
  return asApiErrors(() =>
    registryOrFail(registry).listPage({ limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) }),
  );
}
