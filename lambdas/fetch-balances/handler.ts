/**
 * Step Lambda for `openbanking.balances.get@1.0.0`: read balances from Powens, store them, return them.
 * Thin adapter: middy stack + one call into ../core/domain/fetch-balances.ts.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { domainMetrics, logger, metrics } from '../core/observability';
import { type FetchBalancesDeps, type FetchBalancesOutput, fetchBalances } from '../core/domain/fetch-balances';
import { getStepDependencies, stepErrorBoundary } from '../core/step-runtime';

export type { FetchBalancesDeps, FetchBalancesOutput } from '../core/domain/fetch-balances';

export function defaultFetchBalancesDeps(): FetchBalancesDeps {
  const deps = getStepDependencies();
  return {
    powens: deps.powens,
    secrets: deps.secrets,
    store: deps.store,
    tenantId: deps.config.tenantId,
    maxAgeMinutes: deps.config.freshnessMaxAgeMinutes,
    logger,
    metrics: domainMetrics,
  };
}

/** Tests and the local runner pass their own dependency factory (real clients on loopback). */
export function createFetchBalancesHandler(resolveDeps: () => FetchBalancesDeps = defaultFetchBalancesDeps) {
  // A plain function of the workflow data (the execution input merged with refresh-balances' report).
  const base = async (data: unknown): Promise<FetchBalancesOutput> => fetchBalances(data, {}, resolveDeps());
  return middy(base)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(stepErrorBoundary());
}

export const handler = createFetchBalancesHandler();
