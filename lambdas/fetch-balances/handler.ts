/**
 * Step Lambda for `openbanking.balances.get@1.0.0`: read balances from Powens, store them, return them.
 * Thin adapter: middy stack + one call into ../core/domain/fetch-balances.ts.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { ValidationFailedError } from '../core/errors';
import { type WithWorkflowStep, workflowStep } from '../core/workflow-step';
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
  const base = async (_data: unknown, context: WithWorkflowStep<Context>): Promise<FetchBalancesOutput> => {
    const step = context.workflowStep;
    if (step === undefined) throw new ValidationFailedError('Missing workflow step context (invoke with a StepInvocation).');
    if (step.executionId !== undefined) logger.appendKeys({ executionId: step.executionId, stepId: step.stepId });
    return fetchBalances(step.input, step.executionId === undefined ? {} : { executionId: step.executionId }, resolveDeps());
  };
  return middy(base)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(workflowStep())
    .use(stepErrorBoundary());
}

export const handler = createFetchBalancesHandler();
