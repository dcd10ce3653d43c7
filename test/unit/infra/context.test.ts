/** Context parsing and the imported-secret variant (construct level, no full synth). */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ContextError, readSettings } from '../../../infra/context';
import { NodeFunction } from '../../../infra/constructs/node-function';
import { PowensSecret } from '../../../infra/constructs/powens-secret';
import { ENV } from '../../../lambdas/core/env-names';

const settingsOf = (context: Record<string, unknown>) => readSettings(new App({ context }).node);

describe('readSettings', () => {
  const base = { powensBaseUrl: 'https://acme-sandbox.biapi.pro/2.0', tenantId: 'fo-1' };

  it('applies defaults and drops empty optional values', () => {
    expect(settingsOf({ ...base, powensSecretName: '', alarmEmail: '' })).toEqual({
      ...base,
      refreshSchedule: 'cron(0 6,18 * * ? *)',
    });
  });

  it('reads the Powens calls-per-minute budget from -c (string) or cdk.json (number)', () => {
    expect(settingsOf({ ...base, powensCallsPerMinute: '120' }).powensCallsPerMinute).toBe(120);
    expect(settingsOf({ ...base, powensCallsPerMinute: 600 }).powensCallsPerMinute).toBe(600);
  });

  it.each([
    [
      { ...base, powensBaseUrl: 'http://insecure.example' },
      /powensBaseUrl="http:\/\/insecure.example" must be an https URL/,
    ],
    [{ ...base, tenantId: 'a b' }, /tenantId="a b" must match/],
    [{ ...base, alarmEmail: 'nope' }, /alarmEmail="nope" is not an e-mail/],
    [{ ...base, tenantId: 42 }, /tenantId=42 must be a string/],
    [{ ...base, powensCallsPerMinute: '30/min' }, /powensCallsPerMinute="30\/min" must be a whole number 2\.\.1000000/],
    [{ ...base, powensCallsPerMinute: 1 }, /powensCallsPerMinute="1" must be a whole number/],
  ])('rejects %j naming the key and value', (context, message) => {
    expect(() => settingsOf(context)).toThrow(ContextError);
    expect(() => settingsOf(context)).toThrow(message);
  });
});

describe('imported Powens secret', () => {
  it('grants read on the name-?????? ARN and hands the Lambda the secret NAME', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const powens = new PowensSecret(stack, 'Powens', { existingSecretName: 'prod/powens' });
    new NodeFunction(stack, 'Fn', { entry: 'lambdas/api/handler.ts', description: 'd', serviceName: 's' }).readSecret(
      powens.secret,
      powens.secretId,
    );
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { [ENV.powensSecretId]: 'prod/powens' } },
    });
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).toContain(':secret:prod/powens-??????');
  });
});
