/**
 * Fan-out state machine step: fold the page just refreshed into the summary, list the next page of users to refresh
 * (lambdas/core/domain/fan-out.ts). Users come from the user registry when a token key is configured (active users,
 * then the Powens secret's users that have no registry item: not imported yet), else from the Powens secret's list
 * (deprecated path); users whose connections need no forced sync, as the connection-health items tell, are skipped.
 */
import { parseFanOutPageSize } from '../core/config';
import { type FanOutDeps, nextFanOutPage, type FanOutState } from '../core/domain/fan-out';
import { ENV } from '../core/env-names';
import { logger } from '../core/observability';
import { createStepHandler, getStepDependencies } from '../core/step-runtime';

async function fanOutPage(input: unknown, _call: unknown, deps: FanOutDeps): Promise<FanOutState> {
  const next = await nextFanOutPage(input, deps);
  const summary = { ...next.summary, failedUserIds: next.summary.failedUserIds.length };
  logger.info('fan-out page', {
    users: next.items.length,
    done: next.done,
    maxAgeMinutes: next.maxAgeMinutes,
    summary,
  });
  return next;
}

const defaultDeps = (): FanOutDeps => {
  const { users, health, config } = getStepDependencies();
  return {
    users,
    health: (userIds) => health.listForUsers(config.tenantId, userIds),
    pageSize: parseFanOutPageSize(process.env[ENV.fanOutPageSize]),
    defaultMaxAgeMinutes: config.freshnessMaxAgeMinutes,
  };
};

/** Tests pass their own lister, health reader and page size. */
export const createFanOutPageHandler = (resolveDeps: () => FanOutDeps = defaultDeps) =>
  createStepHandler(fanOutPage, resolveDeps, { publishMetrics: false });

export const handler = createFanOutPageHandler();
