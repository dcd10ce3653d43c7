/**
 * What the step handlers share: the one handler factory (`middy(domainFn)` with the same middlewares for every step),
 * the per-container dependencies (built once from the environment, reused by warm invocations) and the error
 * boundary that guarantees Step Functions only ever sees classified error names.
 *
 * Dependencies are built on the first invocation rather than at import: the objects still live at module scope for
 * the container's lifetime, but a bad environment becomes a ConfigurationError the state machine can report, not a
 * Lambda init crash (`Runtime.ImportModuleError` is not a name our Retry/Catch lists know). The DynamoDB client is
 * created with no options: the SDK reads AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB itself, which is how the local run
 * points it at dynalite.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type StepConfig, getConfig } from './config';
import { toStepError } from './errors';
import { createPowensClient } from './adapters/powens/client';
import type { PowensApi } from './adapters/powens/client-contract';
import { createRateBudget } from './adapters/powens/rate-budget';
import { createBalanceStore, type BalanceStore } from './adapters/dynamodb/balance-store';
import { createPsd2Budget, type Psd2Budget } from './adapters/dynamodb/psd2-budget';
import { type SecretSource, secretSourceFor } from './adapters/secrets/powens-secret';
import { logger, metrics } from './observability';
import type { StepCallContext } from './domain/refresh-balances';
import { withoutExecutionId } from './workflow-contract';
import { deadlineOf, withInvocationDeadline } from './invocation-deadline';
import { createExecutionMarkers, type ExecutionMarkers } from './adapters/dynamodb/execution-markers';
import { createConnectionHealthStore, type ConnectionHealthStore } from './adapters/dynamodb/connection-health';
import { createUserRegistry } from './adapters/dynamodb/user-registry';
import { keyProviderFor } from './adapters/keys/key-provider-for';
import {
  registryCredentialSource,
  registryThenSecretUserLister,
  secretOnlyWarning,
  secretUserLister,
} from './adapters/secrets/user-credentials';
import type { UserLister } from './domain/fan-out';
import type { UserRegistry } from './adapters/dynamodb/user-registry';

export interface StepDependencies {
  config: StepConfig;
  dynamo: DynamoDBDocumentClient;
  powens: PowensApi;
  secrets: SecretSource;
  store: BalanceStore;
  budget: Psd2Budget;
  markers: ExecutionMarkers;
  health: ConnectionHealthStore;
  /**
   * Pages of the tenant's user ids (fan-out): the registry's active users then the secret's users it does not know
   * (deprecated fallback), else the secret's list.
   */
  users: UserLister;
}

/** Builds every dependency from a config and a DynamoDB document client (tests pass dynalite's). */
export function buildStepDependencies(config: StepConfig, dynamo: DynamoDBDocumentClient): StepDependencies {
  const rateBudget = createRateBudget({ client: dynamo, tableName: config.tableName, ...config.powensRate });
  const powens = createPowensClient({
    rateBudget,
    baseUrl: config.powensBaseUrl,
    timeoutMs: config.powensTimeoutMs,
    syncTimeoutMs: config.powensSyncTimeoutMs,
    // Step Functions cannot honour Retry-After; log it so an operator can tune the Retry policy.
    onRetryAfter: (info) => logger.warn('Powens asked to retry later', { ...info }),
  });
  const registry =
    config.userRegistry === undefined
      ? undefined
      : createUserRegistry({
          client: dynamo,
          tableName: config.tableName,
          tenantId: config.tenantId,
          keys: keyProviderFor(config.userRegistry),
        });
  // With a registry the secret needs no users; one cached source serves the credentials and the fan-out's listing.
  const secret = secretSourceFor(config.secret, registry === undefined ? {} : { usersOptional: true });
  const secrets = registry === undefined ? secret : registryCredentialSource({ secret, registry, onSecretFallback });
  return {
    config,
    dynamo,
    powens,
    secrets,
    users: registry === undefined ? secretUserLister(secrets) : usersToImportToo(registry, secret),
    store: createBalanceStore({ client: dynamo, tableName: config.tableName, historyTtlDays: config.historyTtlDays }),
    budget: createPsd2Budget({ client: dynamo, tableName: config.tableName, limit: config.psd2DailySyncLimit }),
    markers: createExecutionMarkers({ client: dynamo, tableName: config.tableName }),
    health: createConnectionHealthStore({ client: dynamo, tableName: config.tableName }),
  };
}

/** A step asked for users the registry does not know, served from the secret: the operator has imports to do. */
const onSecretFallback = (userIds: number[]): void =>
  logger.warn('users refreshed from the Powens secret, not the user registry (deprecated): import them', { userIds });

/**
 * The fan-out's listing with a registry: its active users, then the users still only in the secret (the same
 * deprecated fallback the step Lambdas serve), each page of those logged so an operator sees what is left to import.
 */
function usersToImportToo(registry: UserRegistry, secret: SecretSource): UserLister {
  return registryThenSecretUserLister({
    registry,
    secret,
    onSecretOnly: (userIds) =>
      logger.warn('fan-out: users only the Powens secret lists (deprecated) are refreshed from it: import them', {
        ...secretOnlyWarning(userIds),
      }),
  });
}

let containerDependencies: StepDependencies | undefined;

/** The container's dependencies, from process.env, built once. */
export function getStepDependencies(): StepDependencies {
  if (containerDependencies === undefined) {
    const config = getConfig();
    const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    });
    containerDependencies = buildStepDependencies(config, dynamo);
  }
  return containerDependencies;
}

/** For tests and the local runner, which change the environment between runs in one process. */
export function resetStepDependenciesForTests(): void {
  containerDependencies = undefined;
}

/**
 * Outermost error handling: whatever escapes (an SDK error, a TypeError, a middleware's ValidationFailed) leaves the
 * handler as a StepError, so Step Functions matches Retry/Catch on a known name. Logged once here with its
 * non-secret details; messages are built by our code and the Powens client, which never include credentials.
 */
export function stepErrorBoundary(): middy.MiddlewareObj<unknown, unknown> {
  return {
    onError: (request) => {
      const error = toStepError(request.error);
      request.error = error;
      logger.error('step failed', {
        errorName: error.name,
        errorMessage: error.message,
        retryable: error.retryable,
        ...(error.details === undefined ? {} : { details: error.details }),
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      });
    },
  };
}

/** A step's domain function: the operation's input (the workflow data), what this call knows, its dependencies. */
export type StepFunction<Deps, Output> = (input: unknown, call: StepCallContext, deps: Deps) => Promise<Output>;

/**
 * The one step-handler factory: `middy(domainFn)` with what every step Lambda needs (Lambda context in the logs,
 * metrics flushed, errors classified by stepErrorBoundary, the invocation's deadline in scope for the Powens rate
 * budget). When the operation asks for the execution id, the state
 * machine adds it to the input; it is taken out here and passed as call context (workflow-contract.ts).
 */
export function createStepHandler<Deps, Output>(
  domainFn: StepFunction<Deps, Output>,
  resolveDeps: () => Deps,
  options: { publishMetrics?: boolean } = {},
) {
  const base = async (event: unknown, context: unknown): Promise<Output> => {
    const { input, executionId } = withoutExecutionId(event);
    if (executionId !== undefined) logger.appendKeys({ executionId });
    const run = () => domainFn(input, executionId === undefined ? {} : { executionId }, resolveDeps());
    // The Powens rate budget waits for a slot only as long as the invocation can afford (invocation-deadline.ts).
    const deadline = deadlineOf(context);
    return deadline === undefined ? run() : withInvocationDeadline(deadline, run);
  };
  const handler = middy(base).use(injectLambdaContext(logger, { resetKeys: true }));
  // A step that emits no metric skips the flush (Powertools warns on every empty publish).
  if (options.publishMetrics !== false) handler.use(logMetrics(metrics));
  return handler.use(stepErrorBoundary());
}
