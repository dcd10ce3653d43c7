/**
 * Step Lambda for `openbanking.balances.get@1.0.0`: read balances from Powens, store them, return them
 * (lambdas/core/domain/fetch-balances.ts). Its input is the workflow data: the execution input merged with
 * refresh-balances' report.
 */
import { fetchBalances, type FetchBalancesDeps } from '../core/domain/fetch-balances';
import { domainMetrics, logger } from '../core/observability';
import { createStepHandler, getStepDependencies } from '../core/step-runtime';

export function defaultFetchBalancesDeps(): FetchBalancesDeps {
  const { powens, secrets, store, config } = getStepDependencies();
  return {
    powens,
    secrets,
    store,
    tenantId: config.tenantId,
    maxAgeMinutes: config.freshnessMaxAgeMinutes,
    logger,
    metrics: domainMetrics,
  };
}

/** Tests and the local runner pass their own dependency factory (real clients on loopback). */
export const createFetchBalancesHandler = (resolveDeps: () => FetchBalancesDeps = defaultFetchBalancesDeps) =>
  createStepHandler(fetchBalances, resolveDeps);

export const handler = createFetchBalancesHandler();
