/**
 * Step Lambda for `openbanking.balances.refresh@1.0.0`: force Powens syncs within the PSD2 budget.
 * Thin adapter: middy stack + one call into ../core/domain/refresh-balances.ts.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { withoutExecutionId } from '../core/workflow-contract';
import { domainMetrics, logger, metrics } from '../core/observability';
import {
  type RefreshBalancesDeps,
  type RefreshBalancesOutput,
  refreshBalances,
} from '../core/domain/refresh-balances';
import { getStepDependencies, stepErrorBoundary } from '../core/step-runtime';

export type { RefreshBalancesDeps, RefreshBalancesOutput } from '../core/domain/refresh-balances';

export function defaultRefreshBalancesDeps(): RefreshBalancesDeps {
  const deps = getStepDependencies();
  return {
    powens: deps.powens,
    secrets: deps.secrets,
    budget: deps.budget,
    markers: deps.markers,
    defaultMaxAgeMinutes: deps.config.freshnessMaxAgeMinutes,
    logger,
    metrics: domainMetrics,
  };
}

/** Tests and the local runner pass their own dependency factory (real clients on loopback). */
export function createRefreshBalancesHandler(resolveDeps: () => RefreshBalancesDeps = defaultRefreshBalancesDeps) {
  // A plain function of the workflow data; the state machine adds `executionId` (execution markers: a retry never
  // forces a second sync for the same execution).
  const base = async (event: unknown): Promise<RefreshBalancesOutput> => {
    const { input, executionId } = withoutExecutionId(event);
    if (executionId !== undefined) logger.appendKeys({ executionId });
    return refreshBalances(input, executionId === undefined ? {} : { executionId }, resolveDeps());
  };
  return middy(base)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(stepErrorBoundary());
}

export const handler = createRefreshBalancesHandler();
