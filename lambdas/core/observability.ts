/**
 * Structured logs and CloudWatch metrics (EMF) for the step Lambdas, created once per container.
 *
 * Tracer is deliberately absent: X-Ray active tracing is switched on for the function in CDK, which already traces the
 * invocation; the Powertools Tracer would add the X-Ray SDK (aws-xray-sdk-core) to every bundle and to every cold
 * start just to annotate subsegments we do not need for two short steps.
 *
 * Secrets: code never hands the logger a token or a client secret. As a second line of defence the JSON replacer
 * masks any attribute whose key looks like a credential, wherever it is nested, so a careless
 * `logger.info('x', { user })` cannot leak `user.token`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** Powertools reads POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE first; these are the fallbacks. */
export const SERVICE_NAME = 'openbanking-balances';
export const METRICS_NAMESPACE = 'OpenBankingWorkflows';

const CREDENTIAL_KEY = /^(token|access_?token|auth_?token|client_?secret|clientsecret|authorization|password|secret)$/i;
export const REDACTED = '***';

export function redactCredentials(key: string, value: unknown): unknown {
  return CREDENTIAL_KEY.test(key) && value !== null && value !== undefined ? REDACTED : value;
}

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
  jsonReplacerFn: redactCredentials,
});

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
});

/** The logging surface domain code needs; Powertools' Logger satisfies it, tests can pass a recorder. */
export interface DomainLogger {
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

/** The metrics surface domain code needs (counts only). */
export interface DomainMetrics {
  count(name: string, value: number): void;
}

export const domainMetrics: DomainMetrics = {
  count: (name, value) => metrics.addMetric(name, 'Count', value),
};

export const silentLogger: DomainLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
export const noMetrics: DomainMetrics = { count: () => {} };
