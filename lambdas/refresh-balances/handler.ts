/**
 * Step Lambda for `openbanking.balances.refresh@1.0.0`: force Powens syncs within the PSD2 budget
 * (lambdas/core/domain/refresh-balances.ts). Its binding asks for the execution id, so a Step Functions retry never
 * forces a second sync of a connection for the same execution.
 */
import { refreshBalances, type RefreshBalancesDeps } from '../core/domain/refresh-balances';
import { domainMetrics, logger } from '../core/observability';
import { createStepHandler, getStepDependencies } from '../core/step-runtime';

export function defaultRefreshBalancesDeps(): RefreshBalancesDeps {
  const { powens, secrets, budget, markers, health, config } = getStepDependencies();
  return {
    powens,
    secrets,
    budget,
    markers,
    defaultMaxAgeMinutes: config.freshnessMaxAgeMinutes,
    health: { store: health, tenantId: config.tenantId },
    logger,
    metrics: domainMetrics,
  };
}

/** Tests and the local runner pass their own dependency factory (real clients on loopback). */
export const createRefreshBalancesHandler = (resolveDeps: () => RefreshBalancesDeps = defaultRefreshBalancesDeps) =>
  createStepHandler(refreshBalances, resolveDeps);

export const handler = createRefreshBalancesHandler();
