/**
 * Fan-out state machine step: fold the page just refreshed into the summary, list the next page of users.
 * Thin adapter: middy + one call into ../core/domain/fan-out.ts. Users come from the user registry when a token key
 * is configured (active users only), else from the Powens secret's list (deprecated path).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ConfigurationError } from '../core/errors';
import { ENV } from '../core/env-names';
import { logger } from '../core/observability';
import { createUserRegistry } from '../core/adapters/dynamodb/user-registry';
import { keyProviderFor } from '../core/adapters/keys/key-provider-for';
import { registryUserLister, secretUserLister } from '../core/adapters/secrets/user-credentials';
import { type FanOutState, nextFanOutPage, type UserLister } from '../core/domain/fan-out';
import { getStepDependencies, stepErrorBoundary } from '../core/step-runtime';

export const DEFAULT_FANOUT_PAGE_SIZE = 500;

export function parsePageSize(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_FANOUT_PAGE_SIZE;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < 1 || value > 1000) {
    throw new ConfigurationError(`${ENV.fanOutPageSize}=${JSON.stringify(raw)} must be a whole number 1..1000.`);
  }
  return value;
}

let lister: UserLister | undefined;
function defaultLister(): UserLister {
  if (lister === undefined) {
    const deps = getStepDependencies();
    const { config } = deps;
    lister =
      config.userRegistry === undefined
        ? secretUserLister(deps.secrets)
        : registryUserLister(
            createUserRegistry({
              client: deps.dynamo,
              tableName: config.tableName,
              tenantId: config.tenantId,
              keys: keyProviderFor(config.userRegistry),
            }),
          );
  }
  return lister;
}

export function createFanOutPageHandler(resolve: () => { users: UserLister; pageSize: number } = () => ({
  users: defaultLister(),
  pageSize: parsePageSize(process.env[ENV.fanOutPageSize]),
})) {
  return middy(async (event: unknown): Promise<FanOutState> => {
    const next = await nextFanOutPage(event, resolve());
    logger.info('fan-out page', { users: next.items.length, done: next.done, summary: { ...next.summary, failedUserIds: next.summary.failedUserIds.length } });
    return next;
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(stepErrorBoundary());
}

export const handler = createFanOutPageHandler();
