/**
 * The synthesized stack, one synth for the whole file (bundling skipped via aws:cdk:bundling-stacks: []; the
 * bundling test proves bundling). cdk-nag's AwsSolutions pack runs in the same synth, exactly as in `cdk synth`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../../infra/app';
import { definitionParts, synthesizeFanOutDefinition } from '../../../infra/local/fan-out-definition';
import { POWENS_SECRET_TEMPLATE } from '../../../infra/constructs/powens-secret';
import { StartExecutionCommand, type DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { API_ROUTES } from '../../../lambdas/api/app';
import { parseApiConfig } from '../../../lambdas/api/config';
import { describeRefresh, startRefresh, type SfnSender } from '../../../lambdas/api/refreshes';
import { FakeSfn } from '../../support/fake-sfn';
import { ENV } from '../../../lambdas/core/env-names';
import { REFRESH_INPUT_SCHEMA } from '../../../lambdas/core/domain/refresh-input';
import { compileWorkflow, operationArnPlaceholder } from '../../../infra/compiler/compile';
import { refreshOpenBankingBalancesWorkflow } from '../../../infra/specs';
import { STEP_FUNCTIONS, stepFunctionsByOperation } from '../../../infra/specs/bindings';

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties?: Json;
}

const CONTEXT = {
  'aws:cdk:bundling-stacks': [],
  powensBaseUrl: 'https://acme-sandbox.biapi.pro/2.0',
  tenantId: 'family-office',
  alarmEmail: 'ops@example.com',
};

let outdir: string;
let template: Template;
let resources: Record<string, CfnResource>;
let nagError: unknown;
let stackName: string;

beforeAll(() => {
  outdir = mkdtempSync(path.join(os.tmpdir(), 'cdk-stack-'));
  const { app, stack } = createApp(new App({ outdir, context: CONTEXT }));
  stackName = stack.stackName;
  try {
    app.synth();
  } catch (error) {
    nagError = error; // cdk-nag: "Validation failed"; details in validation-report.json
  }
  const templateFile = path.join(outdir, `${stack.artifactId}.template.json`);
  const json = JSON.parse(readFileSync(templateFile, 'utf8')) as { Resources: Record<string, CfnResource> };
  template = Template.fromJSON(json);
  resources = json.Resources;
}, 300_000); // one synth (+ cdk-nag) for the file: seconds idle, much longer on a loaded 2-core CI
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const functionsByEntry = () => ofType('AWS::Lambda::Function').map(([id, r]) => ({ id, props: r.Properties as Json }));

describe('cdk-nag AwsSolutions', () => {
  it('has zero unacknowledged findings', () => {
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect({ error: nagError === undefined ? undefined : String(nagError), reports: report.pluginReports }).toEqual({
      error: undefined,
      reports: [],
    });
  });

  it('has zero unacknowledged findings with a concrete account and region too (what cdk synth/deploy see)', () => {
    // The CLI sets CDK_DEFAULT_ACCOUNT/REGION from the profile: CDK then renders partition, region and account as
    // literals in the ARNs it builds, and cdk-nag names findings by those ARNs.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cdk-stack-env-'));
    const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
    process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
    process.env.CDK_DEFAULT_REGION = 'eu-west-3';
    try {
      const { app } = createApp(new App({ outdir: dir, context: CONTEXT }));
      expect(() => app.synth()).not.toThrow();
    } finally {
      for (const [key, value] of [
        ['CDK_DEFAULT_ACCOUNT', saved.account],
        ['CDK_DEFAULT_REGION', saved.region],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('control: the same plugin set-up does fail a synth on an unacknowledged finding', () => {
    const app = new App({ outdir: mkdtempSync(path.join(os.tmpdir(), 'cdk-nag-control-')) });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    new Queue(new Stack(app, 'Control'), 'PlainQueue', { encryption: QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2/);
    rmSync(app.outdir, { recursive: true, force: true });
  });
});

describe('DynamoDB table', () => {
  it('is on-demand, PITR, TTL on expiresAt, AWS-managed encryption, retained, keys pk/sk', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      }),
    });
  });
});

describe('Lambda functions', () => {
  it('one per binding plus the fan-out page, the API and the webhook receiver: Node 22, arm64, X-Ray, JSON logs, own log group with 1-month retention', () => {
    const fns = functionsByEntry();
    expect(fns).toHaveLength(STEP_FUNCTIONS.length + 3);
    for (const { props } of fns) {
      expect(props).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: {
          LogFormat: 'JSON',
          ApplicationLogLevel: 'INFO',
          SystemLogLevel: 'WARN',
          LogGroup: { Ref: expect.any(String) },
        },
      });
      const env = (props.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env).toMatchObject({ POWERTOOLS_SERVICE_NAME: expect.any(String), [ENV.tenantId]: 'family-office' });
      expect(env.NODE_OPTIONS).toBeUndefined(); // source maps cost cold-start time (infra/constructs/node-function.ts)
      expect(env[ENV.tableName]).toEqual({ Ref: expect.any(String) });
      const logGroupId = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[logGroupId]?.Properties).toMatchObject({ RetentionInDays: 30 });
    }
  });

  it('step functions take memory/timeout from their binding and get the Powens settings and secret (no credentials in env)', () => {
    for (const binding of STEP_FUNCTIONS) {
      const fn = functionsByEntry().find(({ id }) => id.startsWith(binding.id));
      expect(fn?.props).toMatchObject({
        MemorySize: binding.memoryMb,
        Timeout: binding.timeoutSeconds,
        Environment: {
          Variables: expect.objectContaining({
            [ENV.powensBaseUrl]: 'https://acme-sandbox.biapi.pro/2.0',
            [ENV.powensSecretId]: { Ref: expect.stringMatching(/^PowensSecret/) },
          }),
        },
      });
      // The token KEY's ARN is configuration (KMS decrypts); no token or client secret is ever in the environment.
      const { [ENV.tokenKmsKeyId]: keyRef, ...rest } = (fn?.props.Environment as { Variables: Record<string, unknown> })
        .Variables;
      expect(keyRef).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^UserTokensKey/), 'Arn'] });
      expect(JSON.stringify(rest)).not.toMatch(/clientSecret|token/i);
    }
  });

  it('the API function has both state machine ARNs and the cursor key secret, not the Powens secret', () => {
    const api = functionsByEntry().find(({ id }) => id.startsWith('RefreshApiFunction'));
    const env = (api?.props.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env[ENV.stateMachineArn]).toEqual({ Ref: expect.stringMatching(/^WorkflowStateMachine/) });
    expect(env[ENV.fanOutStateMachineArn]).toEqual({ Ref: expect.stringMatching(/^FanOutStateMachine/) });
    expect(env[ENV.cursorSecretId]).toEqual({ Ref: expect.stringMatching(/^CursorKey/) });
    expect(env).not.toHaveProperty(ENV.powensSecretId);
  });
});

describe('Powens secret', () => {
  it('is created with the placeholder template (no credential), retained', () => {
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ SecretString: JSON.stringify(POWENS_SECRET_TEMPLATE, null, 2) }),
    });
    // The only generated secret is the API's cursor key (a random HMAC key, not a credential).
    template.resourcePropertiesCountIs('AWS::SecretsManager::Secret', { GenerateSecretString: Match.anyValue() }, 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
  });
});

describe('state machine', () => {
  const compiled = compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() });

  it('deploys the compiler output byte for byte, with one substitution per placeholder', () => {
    const [[, sm] = []] = ofType('AWS::StepFunctions::StateMachine');
    const props = sm?.Properties as { DefinitionString: unknown; DefinitionSubstitutions: Record<string, unknown> };
    expect(typeof props.DefinitionString).toBe('string');
    expect(props.DefinitionString === compiled.json).toBe(true);
    expect(Object.keys(props.DefinitionSubstitutions).sort()).toEqual([...compiled.substitutions].sort());
    for (const binding of STEP_FUNCTIONS) {
      for (const operation of binding.operations) {
        const key = operationArnPlaceholder(operation);
        expect(compiled.substitutions).toContain(key);
        expect(props.DefinitionSubstitutions[key]).toEqual({
          'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${binding.id}Function`)), 'Arn'],
        });
      }
    }
  });

  it('is STANDARD, traced, logs ERROR without execution data, named for the scoped API grant', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: `${stackName}-${refreshOpenBankingBalancesWorkflow.meta.key}`.replace(/[^A-Za-z0-9_-]/g, '-'),
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ERROR', IncludeExecutionData: false }),
    });
  });
});

describe('schedule', () => {
  it('starts the fan-out machine with {} twice a day, retries for an hour, dead-letters to an encrypted SSL-only queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6,18 * * ? *)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: Match.objectLike({
        Arn: { Ref: Match.stringLikeRegexp('^FanOutStateMachine') },
        Input: '{}',
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ScheduleDeadLetters'), 'Arn'] } },
      }),
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('REST API', () => {
  const methods = () => ofType('AWS::ApiGateway::Method').map(([, r]) => r.Properties as Json);
  const pathOf = (resourceRef: unknown): string => {
    const id = (resourceRef as { Ref?: string }).Ref;
    if (id === undefined) return '';
    const props = resources[id]?.Properties as { PathPart: string; ParentId: unknown };
    return `${pathOf(props.ParentId)}/${props.PathPart}`;
  };

  it('exposes exactly the routes the Lambda serves, every method AWS_IAM, all through the one Lambda proxy', () => {
    const iam = methods().filter((m) => pathOf(m.ResourceId) !== '/webhooks/powens/{event}');
    const declared = iam.map((m) => ({ method: m.HttpMethod, resource: pathOf(m.ResourceId) }));
    expect(declared).toEqual(expect.arrayContaining(API_ROUTES.map((r) => ({ ...r }))));
    expect(declared).toHaveLength(API_ROUTES.length);
    for (const m of iam) {
      expect(m).toMatchObject({
        AuthorizationType: 'AWS_IAM',
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
        RequestValidatorId: { Ref: expect.stringMatching(/Validator/) },
      });
    }
  });

  it('POST /webhooks/powens/{event} is the only method without IAM auth, proxied to the webhook Lambda (HMAC inside)', () => {
    const open = methods().filter((m) => m.AuthorizationType !== 'AWS_IAM');
    expect(open.map((m) => [m.HttpMethod, pathOf(m.ResourceId)])).toEqual([['POST', '/webhooks/powens/{event}']]);
    expect(open[0]).toMatchObject({ AuthorizationType: 'NONE', Integration: { Type: 'AWS_PROXY' } });
    const uri = JSON.stringify(open[0]?.Integration);
    expect(uri).toMatch(/PowensWebhookFunction/);
    expect(uri).not.toMatch(/RefreshApiFunction/);
  });

  it('validates POST /refreshes against the shared RefreshInput schema', () => {
    const post = methods().find((m) => m.HttpMethod === 'POST');
    expect(post?.RequestModels).toEqual({ 'application/json': { Ref: expect.any(String) } });
    const modelId = (post?.RequestModels as Record<string, { Ref: string }>)['application/json']?.Ref ?? '';
    expect(resources[modelId]?.Properties?.Schema).toEqual(REFRESH_INPUT_SCHEMA);
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_BODY',
      StatusCode: '400',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"error":"BadRequest"') },
    });
  });

  it('stage: access logs (JSON), X-Ray, throttling', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AccessLogs'), 'Arn'] },
        Format: Match.stringLikeRegexp('requestId'),
      },
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 })],
    });
  });
});

describe('alarms', () => {
  it('watch both state machines, every Lambda and the schedule DLQ, and notify an encrypted SSL-only topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties as Json);
    const metrics = alarms.map((a) => `${String(a.Namespace)}:${String(a.MetricName)}`);
    expect(metrics).toEqual(
      expect.arrayContaining([
        'AWS/States:ExecutionsFailed',
        'AWS/States:ExecutionsTimedOut',
        'AWS/States:ExecutionThrottled',
        'AWS/SQS:ApproximateNumberOfMessagesVisible',
        'AWS/ApiGateway:5XXError',
      ]),
    );
    // The seed machine and the fan-out machine, each on its own ARN (the seed's failures as a rate, below).
    for (const name of ['ExecutionsTimedOut', 'ExecutionThrottled']) {
      const watched = alarms
        .filter((a) => a.MetricName === name)
        .map((a) => (a.Dimensions as { Value: { Ref: string } }[])[0]?.Value.Ref);
      expect(watched.sort()).toEqual([
        expect.stringMatching(/^FanOutStateMachine/),
        expect.stringMatching(/^WorkflowStateMachine/),
      ]);
    }
    const failed = alarms.filter((a) => a.MetricName === 'ExecutionsFailed');
    expect(failed.map((a) => (a.Dimensions as { Value: { Ref: string } }[])[0]?.Value.Ref)).toEqual([
      expect.stringMatching(/^FanOutStateMachine/),
    ]);
    // One failed user of a 10,000-user fan-out must not page; a failed single refresh (100 %) must.
    const seedFailureRate = alarms.find((a) => String(a.AlarmDescription).includes('balance refresh executions'));
    expect(seedFailureRate).toMatchObject({
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      Metrics: expect.arrayContaining([
        expect.objectContaining({ Expression: expect.stringContaining('100 * FILL(failed, 0)') }),
        expect.objectContaining({
          Id: 'failed',
          MetricStat: expect.objectContaining({
            Metric: expect.objectContaining({
              MetricName: 'ExecutionsFailed',
              Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: expect.stringMatching(/^WorkflowStateMachine/) } }],
            }),
          }),
        }),
        expect.objectContaining({
          Id: 'ok',
          MetricStat: expect.objectContaining({
            Metric: expect.objectContaining({ MetricName: 'ExecutionsSucceeded' }),
          }),
        }),
      ]),
    });
    expect(metrics.filter((m) => m === 'AWS/Lambda:Errors')).toHaveLength(STEP_FUNCTIONS.length + 3);
    expect(metrics.filter((m) => m === 'AWS/Lambda:Throttles')).toHaveLength(STEP_FUNCTIONS.length + 3);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
    }
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });
});

describe('outputs', () => {
  it('state machine ARN, API URL, table name, secret ARN', () => {
    const outputs = Object.keys(template.toJSON().Outputs as Json);
    for (const name of ['StateMachineArn', 'ApiUrl', 'TableName', 'PowensSecretArn']) {
      expect(outputs.some((o) => o.startsWith(name))).toBe(true);
    }
  });
});

/**
 * Least privilege over every identity policy in the template. `*` actions are never allowed; `*` in a resource only
 * where AWS offers no resource-level permission, each listed with its reason. Anything else fails.
 */
const STAR_RESOURCE_ALLOWED: Record<string, string> = {
  'xray:PutTraceSegments': 'X-Ray has no resource-level permissions (Lambda and Step Functions tracing)',
  'xray:PutTelemetryRecords': 'X-Ray has no resource-level permissions',
  'xray:GetSamplingRules': 'X-Ray has no resource-level permissions (Step Functions tracing)',
  'xray:GetSamplingTargets': 'X-Ray has no resource-level permissions (Step Functions tracing)',
  'logs:CreateLogDelivery': 'CloudWatch Logs vended delivery (Step Functions logging) requires Resource *',
  'logs:GetLogDelivery': 'same',
  'logs:UpdateLogDelivery': 'same',
  'logs:DeleteLogDelivery': 'same',
  'logs:ListLogDeliveries': 'same',
  'logs:PutResourcePolicy': 'same',
  'logs:DescribeResourcePolicies': 'same',
  'logs:DescribeLogGroups': 'same',
};
/** Resources ending in a wildcard that are scoped as tightly as the service allows. */
const WILDCARD_RESOURCE_ALLOWED: { action: string; pattern: RegExp; reason: string }[] = [
  ...['states:DescribeExecution', 'states:StopExecution'].map((action) => ({
    action,
    pattern: /:execution:OpenBankingRefresh-pfo-workflow-refresh-openbanking-balances\*$/,
    reason: 'startExecution.sync:2 polls/stops the seed executions it starts (generated names)',
  })),
  ...['states:DescribeExecution', 'states:StopExecution'].map((action) => ({
    action,
    pattern: /:execution:<token>:\*$/,
    reason: 'Distributed Map child executions of the fan-out machine (its own name, a token here)',
  })),
  {
    action: 'states:RedriveExecution',
    pattern: /:execution:<token>\/\*:\*$/,
    reason: 'Distributed Map runs of the fan-out machine',
  },
  {
    action: 'states:DescribeExecution',
    pattern: /:execution:OpenBankingRefresh-[A-Za-z0-9_-]+:\*$/,
    reason: 'execution names are per request; scoped to this state machine',
  },
];

function resourceText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => (typeof part === 'string' ? part : '<token>')).join(join[0]);
  return '<token>'; // Ref / GetAtt of a concrete resource
}

describe('IAM least privilege', () => {
  const statements = () => {
    const out: { where: string; Action: string[]; Resource: string[] }[] = [];
    for (const [id, r] of Object.entries(resources)) {
      const docs: unknown[] = [];
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        docs.push(r.Properties?.PolicyDocument);
      if (r.Type === 'AWS::IAM::Role')
        for (const p of (r.Properties?.Policies as { PolicyDocument: unknown }[]) ?? []) docs.push(p.PolicyDocument);
      for (const doc of docs) {
        for (const s of (doc as { Statement: Json[] }).Statement) {
          const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
          out.push({ where: id, Action: list(s.Action) as string[], Resource: list(s.Resource).map(resourceText) });
        }
      }
    }
    return out;
  };

  it('found the policies (the walk is not vacuous)', () => {
    expect(statements().length).toBeGreaterThan(10);
  });

  it('uses no managed policies', () => {
    for (const [, role] of ofType('AWS::IAM::Role')) expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
  });

  it('has no wildcard action and wildcard resources only where AWS requires them', () => {
    const violations: string[] = [];
    for (const s of statements()) {
      for (const action of s.Action) if (action.includes('*')) violations.push(`${s.where}: action ${action}`);
      for (const resource of s.Resource) {
        if (resource === '*') {
          const bad = s.Action.filter((a) => !(a in STAR_RESOURCE_ALLOWED));
          if (bad.length > 0) violations.push(`${s.where}: Resource * for ${bad.join(', ')}`);
        } else if (resource.includes('*')) {
          const ok = s.Action.every((a) =>
            WILDCARD_RESOURCE_ALLOWED.some((w) => w.action === a && w.pattern.test(resource)),
          );
          if (!ok) violations.push(`${s.where}: ${s.Action.join(',')} on ${resource}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the API role may start/describe executions (of two machines), GetItem/Query the table, read the cursor key and write only user-registry items (Update/Delete)', () => {
    const apiActions = statements()
      .filter((s) => s.where.startsWith('RefreshApiFunctionRole'))
      .flatMap((s) => s.Action)
      .sort();
    expect(apiActions).toEqual(
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'kms:Encrypt',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        // Twice each: the seed machine (named users/connections) and the fan-out machine (everyone).
        'states:DescribeExecution',
        'states:DescribeExecution',
        'states:StartExecution',
        'states:StartExecution',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
  });

  it('the API role may start exactly the seed and fan-out machines and describe only their own executions', () => {
    const states = statements().filter(
      (s) => s.where.startsWith('RefreshApiFunctionRole') && s.Action.some((a) => a.startsWith('states:')),
    );
    expect(states.map((s) => ({ Action: s.Action, Resource: s.Resource }))).toEqual(
      expect.arrayContaining([
        { Action: ['states:StartExecution'], Resource: ['<token>'] },
        { Action: ['states:StartExecution'], Resource: ['<token>'] },
        {
          Action: ['states:DescribeExecution'],
          Resource: [
            'arn:<token>:states:<token>:<token>:execution:OpenBankingRefresh-pfo-workflow-refresh-openbanking-balances:*',
          ],
        },
        {
          Action: ['states:DescribeExecution'],
          Resource: ['arn:<token>:states:<token>:<token>:execution:OpenBankingRefresh-fan-out:*'],
        },
      ]),
    );
    expect(states).toHaveLength(4);
  });

  it('the API code, configured from its synthesized environment, calls only what its role allows (both machines)', async () => {
    // CloudFormation's resolution, for this account/region: Ref of a state machine is its ARN.
    const at = { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-3', 'AWS::AccountId': '123456789012' } as const;
    const resolve = (value: unknown): string => {
      if (typeof value === 'string') return value;
      const { Ref: ref, 'Fn::Join': join } = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
      if (join) return join[1].map(resolve).join(join[0]);
      if (ref !== undefined && ref in at) return at[ref as keyof typeof at];
      const machine = ref === undefined ? undefined : resources[ref];
      if (machine?.Type === 'AWS::StepFunctions::StateMachine') {
        return `arn:aws:states:${at['AWS::Region']}:${at['AWS::AccountId']}:stateMachine:${String(machine.Properties?.StateMachineName)}`;
      }
      return `unresolved:${JSON.stringify(value)}`;
    };
    const api = functionsByEntry().find(({ id }) => id.startsWith('RefreshApiFunction'));
    const env = Object.fromEntries(
      Object.entries((api?.props.Environment as { Variables: Record<string, unknown> }).Variables).map(([k, v]) => [
        k,
        resolve(v),
      ]),
    );
    const config = parseApiConfig(env);
    // IAM wildcard semantics: `*` matches any run of characters, `?` one.
    const glob = (pattern: string) =>
      new RegExp(
        `^${pattern
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
      );
    const apiGrants = ofType('AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('RefreshApiFunctionRole'))
      .flatMap(([, p]) => (p.Properties?.PolicyDocument as { Statement: Json[] }).Statement);
    const allowed = (action: string, arn: string) =>
      apiGrants
        .filter((st) => st.Effect === 'Allow' && [st.Action].flat().includes(action))
        .some((st) => [st.Resource].flat().some((resource) => glob(resolve(resource)).test(arn)));
    // Step Functions: FakeSfn (no local Step Functions API exists), recording what each call targets.
    const sfn = new FakeSfn(() => new Date('2026-12-01T06:00:00Z'));
    const calls: [string, string][] = [];
    const recorder: SfnSender = {
      send: (command: StartExecutionCommand | DescribeExecutionCommand) => {
        calls.push(
          command instanceof StartExecutionCommand
            ? ['states:StartExecution', command.input.stateMachineArn ?? '']
            : ['states:DescribeExecution', (command as DescribeExecutionCommand).input.executionArn ?? ''],
        );
        return sfn.send(command as StartExecutionCommand);
      },
    } as SfnSender;
    const deps = {
      sfn: recorder,
      stateMachineArn: config.stateMachineArn,
      fanOutStateMachineArn: config.fanOutStateMachineArn,
      now: () => new Date('2026-12-01T06:00:00Z'),
    };
    const everyone = await startRefresh(deps, { requestId: 'r1' });
    const users = await startRefresh(deps, { userIds: [1] });
    await describeRefresh(deps, everyone.executionName);
    await describeRefresh(deps, users.executionName);
    await expect(describeRefresh(deps, 'scheduled-run-1')).rejects.toThrow(/No refresh named/);
    expect(everyone.executionArn).toContain(':execution:OpenBankingRefresh-fan-out:fanout-req-r1');
    expect(new Set(calls.map(([action]) => action))).toEqual(
      new Set(['states:StartExecution', 'states:DescribeExecution']),
    );
    expect(calls.filter(([action, arn]) => !allowed(action, arn))).toEqual([]);
    const startable = apiGrants
      .filter((st) => [st.Action].flat().includes('states:StartExecution'))
      .flatMap((st) => [st.Resource].flat().map(resolve));
    expect(startable.sort()).toEqual([config.stateMachineArn, config.fanOutStateMachineArn].sort());
    // The check can fail: neither another machine nor the fan-out's own Map children are within the grants.
    expect(
      allowed('states:StartExecution', config.stateMachineArn.replace(/:stateMachine:.*/, ':stateMachine:Other')),
    ).toBe(false);
    expect(
      allowed('states:DescribeExecution', `${everyone.executionArn.replace(/:fanout-req-r1$/, '')}/map-run-1:child-1`),
    ).toBe(false);
  });

  it('user tokens: the API may only Encrypt and the steps only Decrypt, on the token key, for this tenant only', () => {
    const [keyId] = ofType('AWS::KMS::Key').map(([id]) => id);
    expect(resources[keyId as string]).toMatchObject({
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
    });
    const kms = ofType('AWS::IAM::Policy').flatMap(([id, p]) =>
      (p.Properties?.PolicyDocument as { Statement: Json[] }).Statement.filter((st) =>
        String(st.Action).startsWith('kms:'),
      ).map((st) => ({
        role: id.replace(/Role.*$/, ''),
        statement: st,
      })),
    );
    expect(Object.fromEntries(kms.map(({ role, statement }) => [role, statement.Action]))).toEqual({
      RefreshApiFunction: 'kms:Encrypt',
      ...Object.fromEntries(STEP_FUNCTIONS.map((b) => [b.id, 'kms:Decrypt'])),
    });
    for (const { statement } of kms) {
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
      expect(statement.Condition).toEqual({ StringEquals: { 'kms:EncryptionContext:tenant': 'family-office' } });
    }
  });

  it('each function role lists exactly the DynamoDB actions its code calls, on the table only', () => {
    const expected: Record<string, string[]> = {
      // + GetItem/Query of the user registry (USER_REGISTRY_STEP_TABLE_ACTIONS; test/integration/users).
      RefreshBalances: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      FetchBalances: [
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
      // FAN_OUT_PAGE_TABLE_ACTIONS; test/integration/users/fan-out-pages checks the code calls exactly these.
      FanOutPage: ['dynamodb:GetItem', 'dynamodb:Query'],
      // + Update/Delete/Query of the user routes (USER_REGISTRY_API_TABLE_ACTIONS; test/integration/api/users).
      RefreshApiFunction: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      // WEBHOOK_TABLE_ACTIONS; test/integration/webhooks checks the code calls exactly these.
      PowensWebhookFunction: [
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
    };
    const [tableId] = ofType('AWS::DynamoDB::GlobalTable').map(([id]) => id);
    const roleOf = (fn: Json) => ((fn.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'] ?? [])[0];
    const actual: Record<string, string[]> = {};
    for (const { id, props } of functionsByEntry()) {
      const roleId = roleOf(props);
      const policies = ofType('AWS::IAM::Policy').filter(([, p]) =>
        ((p.Properties?.Roles as { Ref: string }[]) ?? []).some((r) => r.Ref === roleId),
      );
      const dynamo = policies
        .flatMap(([, p]) => (p.Properties?.PolicyDocument as { Statement: Json[] }).Statement)
        .filter((st) => [st.Action].flat().some((a) => String(a).startsWith('dynamodb:')));
      if (dynamo.length === 0) continue;
      for (const st of dynamo) {
        // On the table's ARN, no index or stream ARN beside it.
        expect([st.Resource].flat()).toEqual([{ 'Fn::GetAtt': [tableId, 'Arn'] }]);
      }
      const owner = Object.keys(expected).find((name) => id.startsWith(name)) ?? id;
      actual[owner] = dynamo.flatMap((st) => [st.Action].flat() as string[]).sort();
    }
    expect(actual).toEqual(expected);
  });

  it('the state machines may invoke exactly their functions (unqualified ARNs): the bound ones, the fan-out page', () => {
    const invoke = statements().filter((s) => s.Action.includes('lambda:InvokeFunction'));
    const seed = invoke.filter((s) => s.where.startsWith('WorkflowStateMachineRole'));
    const fanOut = invoke.filter((s) => s.where.startsWith('FanOutStateMachineRole'));
    expect(seed.flatMap((s) => s.Resource)).toHaveLength(STEP_FUNCTIONS.length);
    expect(fanOut.flatMap((s) => s.Resource)).toEqual(['<token>']);
    expect(seed.length + fanOut.length).toBe(invoke.length);
  });
});

describe('fan-out state machine (one seed execution per user)', () => {
  /** The fan-out's ASL with CloudFormation tokens rendered as "<token>" (they only occur inside ARNs). */
  const fanOutDefinition = () => {
    const [, machine] =
      ofType('AWS::StepFunctions::StateMachine').find(([id]) => id.startsWith('FanOutStateMachine')) ?? [];
    const def = machine?.Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] };
    return JSON.parse(def['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : '<token>')).join('')) as {
      StartAt: string;
      States: Record<string, Json>;
    };
  };

  it('NextPage, then a Distributed Map that starts the seed machine per user with .sync:2 and {userIds:[id], maxAgeMinutes}', () => {
    const asl = fanOutDefinition();
    expect(asl.StartAt).toBe('NextPage');
    expect(asl.States.NextPage).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Next: 'AnyUsersLeft',
    });
    // Done when NextPage says so; a page with nobody to refresh (all fresh) goes back to NextPage without a Map Run.
    expect(asl.States.AnyUsersLeft).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.done', BooleanEquals: true, Next: 'Done' },
        { Variable: '$.items[0]', IsPresent: true, Next: 'PerUser' },
      ],
      Default: 'NextPage',
    });
    const map = asl.States.PerUser as Json & {
      ItemProcessor: { ProcessorConfig: Json; StartAt: string; States: Record<string, Json> };
    };
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.items',
      MaxConcurrency: 10,
      ToleratedFailurePercentage: 10,
      ResultPath: '$.results',
      Next: 'NextPage',
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
      // The fan-out's threshold (NextPage's output) reaches every item.
      ItemSelector: { 'userId.$': '$$.Map.Item.Value.userId', 'maxAgeMinutes.$': '$.maxAgeMinutes' },
    });
    const task = map.ItemProcessor.States[map.ItemProcessor.StartAt];
    expect(task).toMatchObject({
      Resource: 'arn:<token>:states:::states:startExecution.sync:2',
      Parameters: {
        Input: { 'userIds.$': 'States.Array($.userId)', 'maxAgeMinutes.$': '$.maxAgeMinutes' },
        StateMachineArn: expect.stringMatching(
          /:stateMachine:OpenBankingRefresh-pfo-workflow-refresh-openbanking-balances$/,
        ),
      },
      // Only who and how: the child's output (balances) never reaches the fan-out's state.
      ResultSelector: { 'userIds.$': '$.Input.userIds', 'status.$': '$.Status' },
      // A failed child fails its item through a Fail state with the child's error and a one-sentence cause, rather
      // than the task's own cause (the child's whole description): the Map's results stay small within tolerance.
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'UserRefreshFailed' }],
    });
    expect(map.ItemProcessor.States.UserRefreshFailed).toEqual({
      Type: 'Fail',
      ErrorPath: '$.failure.Error',
      Cause: expect.stringMatching(/^.{1,100}$/),
    });
    expect(asl.States.Done).toMatchObject({ Type: 'Succeed', OutputPath: '$.summary' });
  });

  it('the local run (npm start -- --users N) executes this very definition: same text, only the ARN tokens differ', () => {
    const [, machine] =
      ofType('AWS::StepFunctions::StateMachine').find(([id]) => id.startsWith('FanOutStateMachine')) ?? [];
    const deployed = definitionParts(machine?.Properties?.DefinitionString);
    const seedArn = (
      fanOutDefinition().States.PerUser as {
        ItemProcessor: { States: { RefreshUser: { Parameters: { StateMachineArn: string } } } };
      }
    ).ItemProcessor.States.RefreshUser.Parameters.StateMachineArn;
    const local = synthesizeFanOutDefinition({
      seedName: seedArn.split(':stateMachine:')[1] ?? '',
      maxConcurrency: 10,
      toleratedFailurePercentage: 10,
    });
    const text = (parts: typeof deployed) => parts.map((p) => (typeof p === 'string' ? p : '<token>'));
    expect(text(local)).toEqual(text(deployed));
    // The tokens themselves: the same pseudo parameters in the same places; the function ARN is the only other one.
    const kinds = (parts: typeof deployed) =>
      parts.filter((p) => typeof p !== 'string').map((t) => ('Ref' in t ? t.Ref : 'Fn::GetAtt'));
    expect(kinds(local)).toEqual(kinds(deployed));
  });

  it('may start the seed machine (by name) and its own map runs, nothing else', () => {
    const starts = ofType('AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('FanOut'))
      .flatMap(([id, p]) => (p.Properties?.PolicyDocument as { Statement: Json[] }).Statement.map((st) => ({ id, st })))
      .filter(({ st }) => [st.Action].flat().includes('states:StartExecution'));
    const text = (r: unknown) => JSON.stringify(r);
    expect(starts).toHaveLength(2);
    const seed = starts.find(({ id }) => id.startsWith('FanOutStateMachineRole'));
    expect(text(seed?.st.Resource)).toMatch(
      /:stateMachine:OpenBankingRefresh-pfo-workflow-refresh-openbanking-balances"/,
    );
    const own = starts.find(({ id }) => id.startsWith('FanOutStateMachineDistributedMapPolicy'));
    expect(text(own?.st.Resource)).toMatch(/"Ref":"FanOutStateMachine/);
  });

  it('takes MaxConcurrency, ToleratedFailurePercentage and the page size from context', () => {
    const { stack } = createApp(
      new App({
        context: {
          ...CONTEXT,
          fanOutMaxConcurrency: '40',
          fanOutToleratedFailurePercentage: 25,
          fanOutPageSize: '200',
        },
      }),
    );
    const t = Template.fromStack(stack);
    const [, machine] =
      Object.entries(t.findResources('AWS::StepFunctions::StateMachine')).find(([id]) => id.startsWith('FanOut')) ?? [];
    const text = JSON.stringify(machine);
    expect(text).toContain('\\"MaxConcurrency\\":40');
    expect(text).toContain('\\"ToleratedFailurePercentage\\":25');
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.fanOutPageSize]: '200' }) },
    });
  }, 120_000);
});
