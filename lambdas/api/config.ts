/** refresh-api configuration from the environment, parsed once; errors name the variable and the fix. */
import { ConfigurationError } from '../core/errors';
import { ENV } from '../core/env-names';
import {
  type Environment,
  parseFreshnessMaxAgeMinutes,
  parseUserRegistryConfig,
  type UserRegistryConfig,
} from '../core/config';

export interface ApiConfig {
  /** The compiled refresh workflow: POST /refreshes naming users or connections. */
  stateMachineArn: string;
  /** The fan-out machine: POST /refreshes for everyone. */
  fanOutStateMachineArn: string;
  tableName: string;
  tenantId: string;
  /** Freshness threshold for `stale`: the same FRESHNESS_MAX_AGE_MINUTES as the refresh. */
  maxAgeMinutes: number;
  /** Secrets Manager secret (ARN or name) whose SecretString is the pagination cursors' HMAC key. */
  cursorSecretId: string;
  /** Token key for PUT /users (absent: the /users routes answer ConfigurationError). */
  userRegistry?: UserRegistryConfig;
}

function required(env: Environment, name: string, hint: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigurationError(`${name} is not set. ${hint}`);
  return value;
}

function stateMachineArn(env: Environment, name: string, hint: string): string {
  const arn = required(env, name, hint);
  if (!/^arn:[\w-]+:states:[\w-]+:\d{12}:stateMachine:[\w-]+$/.test(arn)) {
    throw new ConfigurationError(
      `${name}=${JSON.stringify(arn)} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>).`,
    );
  }
  return arn;
}

export function parseApiConfig(env: Environment): ApiConfig {
  const userRegistry = parseUserRegistryConfig(env);
  return {
    ...(userRegistry === undefined ? {} : { userRegistry }),
    stateMachineArn: stateMachineArn(
      env,
      ENV.stateMachineArn,
      'Set it to the refresh state machine ARN (the stack does).',
    ),
    fanOutStateMachineArn: stateMachineArn(
      env,
      ENV.fanOutStateMachineArn,
      'Set it to the fan-out state machine ARN (the stack does): POST /refreshes for everyone starts it.',
    ),
    tableName: required(env, ENV.tableName, 'Set it to the balances DynamoDB table name.'),
    tenantId: required(env, ENV.tenantId, 'Set it to the tenant whose balances GET /balances returns.'),
    maxAgeMinutes: parseFreshnessMaxAgeMinutes(env),
    cursorSecretId: required(
      env,
      ENV.cursorSecretId,
      'Set it to the secret holding the pagination cursor key (the stack creates it).',
    ),
  };
}
