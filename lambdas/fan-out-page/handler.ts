/**
 * Fan-out state machine step: fold the page just refreshed into the summary, list the next page of users
 * (lambdas/core/domain/fan-out.ts). Users come from the user registry when a token key is configured (active users
 * only), else from the Powens secret's list (deprecated path).
 */
import { parseFanOutPageSize } from '../core/config';
import { nextFanOutPage, type FanOutState, type UserLister } from '../core/domain/fan-out';
import { ENV } from '../core/env-names';
import { logger } from '../core/observability';
import { createStepHandler, getStepDependencies } from '../core/step-runtime';

type FanOutPageDeps = { users: UserLister; pageSize: number };

async function fanOutPage(input: unknown, _call: unknown, deps: FanOutPageDeps): Promise<FanOutState> {
  const next = await nextFanOutPage(input, deps);
  const summary = { ...next.summary, failedUserIds: next.summary.failedUserIds.length };
  logger.info('fan-out page', { users: next.items.length, done: next.done, summary });
  return next;
}

const defaultDeps = (): FanOutPageDeps => ({
  users: getStepDependencies().users,
  pageSize: parseFanOutPageSize(process.env[ENV.fanOutPageSize]),
});

/** Tests pass their own lister and page size. */
export const createFanOutPageHandler = (resolveDeps: () => FanOutPageDeps = defaultDeps) =>
  createStepHandler(fanOutPage, resolveDeps, { publishMetrics: false });

export const handler = createFanOutPageHandler();
