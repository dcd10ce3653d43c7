/**
 * Step Lambda for `openbanking.balances.refresh@1.0.0`: force Powens syncs within the PSD2 budget.
 * Thin adapter: middy stack + one call into ../core/domain/refresh-balances.ts.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { ValidationFailedError } from '../core/errors';
import { type WithWorkflowStep, workflowStep } from '../core/workflow-step';
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
  const base = async (_data: unknown, context: WithWorkflowStep<Context>): Promise<RefreshBalancesOutput> => {
    const step = context.workflowStep;
    if (step === undefined) throw new ValidationFailedError('Missing workflow step context (invoke with a StepInvocation).');
    if (step.executionId !== undefined) logger.appendKeys({ executionId: step.executionId, stepId: step.stepId });
    return refreshBalances(step.input, step.executionId === undefined ? {} : { executionId: step.executionId }, resolveDeps());
  };
  return middy(base)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(workflowStep())
    .use(stepErrorBoundary());
}

export const handler = createRefreshBalancesHandler();
