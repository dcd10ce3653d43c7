/** The API's configuration: both state machines are required, so "refresh everyone" can never fall back to the seed. */
import { parseApiConfig } from '../../../lambdas/api/config';
import { ENV } from '../../../lambdas/core/env-names';

const ENVIRONMENT = {
  [ENV.stateMachineArn]: 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh',
  [ENV.fanOutStateMachineArn]: 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh-fan-out',
  [ENV.tableName]: 'balances',
  [ENV.tenantId]: 'family-office',
  [ENV.cursorSecretId]: 'cursor-key',
};

describe('parseApiConfig', () => {
  it('reads the seed and the fan-out state machine ARNs', () => {
    expect(parseApiConfig(ENVIRONMENT)).toMatchObject({
      stateMachineArn: ENVIRONMENT[ENV.stateMachineArn],
      fanOutStateMachineArn: ENVIRONMENT[ENV.fanOutStateMachineArn],
    });
  });

  it.each([
    ['missing', undefined, /FAN_OUT_STATE_MACHINE_ARN is not set\. Set it to the fan-out state machine ARN/],
    ['not an ARN', 'Refresh-fan-out', /FAN_OUT_STATE_MACHINE_ARN="Refresh-fan-out" is not a state machine ARN/],
  ])('fails with a ConfigurationError naming FAN_OUT_STATE_MACHINE_ARN when it is %s', (_case, value, message) => {
    const env = { ...ENVIRONMENT, [ENV.fanOutStateMachineArn]: value };
    expect(() => parseApiConfig(env)).toThrow(expect.objectContaining({ name: 'ConfigurationError' }));
    expect(() => parseApiConfig(env)).toThrow(message);
  });
});
