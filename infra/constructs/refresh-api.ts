import { Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  RestApi,
  type JsonSchema,
  type Model,
  type RequestValidator,
} from 'aws-cdk-lib/aws-apigateway';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REFRESH_INPUT_SCHEMA } from '../../lambdas/core/domain/refresh-input';
import type { NodeFunction } from './node-function';

/**
 * CDK's JsonSchema spells `$schema`/`$ref` as `schema`/`ref` and renders them back; the shared schema is plain JSON
 * Schema, so rename those keys (recursively) rather than maintaining a second copy.
 */
export function toApiGatewaySchema(schema: unknown): JsonSchema {
  const convert = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(convert);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [
        key === '$schema' ? 'schema' : key === '$ref' ? 'ref' : key,
        convert(v),
      ]),
    );
  };
  return convert(schema) as JsonSchema;
}

export interface RefreshApiProps {
  handler: NodeFunction;
  /**
   * Powens webhook receiver: `POST /webhooks/powens/{event}` without IAM auth (Powens cannot sign SigV4); the Lambda
   * verifies Powens' HMAC signature before reading or writing anything.
   */
  webhooks?: NodeFunction;
}

/**
 * REST API, IAM (SigV4) on every method — callers are AWS principals (dashboards, operators), no user pool:
 *   POST /refreshes       start a refresh (body validated against RefreshInput) → 202: the seed machine for named
 *                         users/connections, the fan-out machine for everyone (lambdas/api/refresh-request.ts)
 *   GET  /refreshes/{id}  status and output of one refresh (either machine)
 *   GET  /balances        latest balance per account, with asset class and staleness (paginated)
 *   GET  /positions       totals per currency and asset class
 *   GET  /accounts/{accountId}/history?from&to   stored snapshots of one account (paginated)
 *   GET  /connections     connection health (`?needsUser=true`: who must reconnect)
 *   GET  /users, PUT|DELETE /users/{userId}   the user registry (tokens write-only)
 * One thin Lambda serves them all (lambdas/api/handler.ts); `POST /webhooks/powens/{event}` (props.webhooks) is the
 * one route without IAM auth.
 */
export class RefreshApi extends Construct {
  readonly api: RestApi;
  readonly accessLogs: LogGroup;
  readonly refreshInputModel: Model;
  readonly validator: RequestValidator;

  constructor(scope: Construct, id: string, props: RefreshApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH });
    this.api = new RestApi(this, 'Api', {
      description: 'Open-banking balance refreshes (IAM auth)',
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      // The account-level CloudWatch role is a per-region singleton shared by every API; this stack must not own it.
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        // A handful of operators and dashboards, not the public.
        throttlingRateLimit: 5,
        throttlingBurstLimit: 10,
        loggingLevel: MethodLoggingLevel.OFF,
      },
    });

    this.refreshInputModel = this.api.addModel('RefreshInput', {
      modelName: 'RefreshInput',
      contentType: 'application/json',
      schema: toApiGatewaySchema(REFRESH_INPUT_SCHEMA),
    });
    // One validator for every method: bodies against their model (POST), required path parameters (GET {id}).
    this.validator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'body-and-params',
      validateRequestBody: true,
      validateRequestParameters: true,
    });

    // Gateway-made errors in the same {error, message} shape as the Lambda's. Templates here are not VTL: only
    // simple substitution, and messageString is the one variable that comes JSON-quoted.
    this.api.addGatewayResponse('BadBody', {
      type: ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: {
        'application/json':
          '{"error":"BadRequest","message":$context.error.messageString,"hint":"The body must match the RefreshInput model: {userIds?: int[], connectionIds?: int[], psuRequested?: boolean, requestId?: string, maxAgeMinutes?: int}. Send {} to refresh everything."}',
      },
    });
    this.api.addGatewayResponse('Default4xx', {
      type: ResponseType.DEFAULT_4XX,
      templates: {
        'application/json': '{"error":"$context.error.responseType","message":$context.error.messageString}',
      },
    });
    this.api.addGatewayResponse('Default5xx', {
      type: ResponseType.DEFAULT_5XX,
      templates: { 'application/json': '{"error":"InternalError","message":$context.error.messageString}' },
    });

    // allowTestInvoke=false: no extra invoke permission for the console's test-invoke stage.
    const integration = new LambdaIntegration(props.handler.function, { allowTestInvoke: false });
    const refreshes = this.api.root.addResource('refreshes');
    refreshes.addMethod('POST', integration, {
      requestValidator: this.validator,
      requestModels: { 'application/json': this.refreshInputModel },
    });
    refreshes.addResource('{id}').addMethod('GET', integration, {
      requestValidator: this.validator,
      requestParameters: { 'method.request.path.id': true },
    });
    // Query strings (limit, cursor, from, to) are validated by the Lambda, which names the bad parameter.
    this.api.root.addResource('balances').addMethod('GET', integration, { requestValidator: this.validator });
    this.api.root.addResource('positions').addMethod('GET', integration, { requestValidator: this.validator });
    this.api.root
      .addResource('accounts')
      .addResource('{accountId}')
      .addResource('history')
      .addMethod('GET', integration, {
        requestValidator: this.validator,
        requestParameters: { 'method.request.path.accountId': true },
      });
    // Who must reconnect: connection health, optionally `?needsUser=true` (validated by the Lambda).
    this.api.root.addResource('connections').addMethod('GET', integration, { requestValidator: this.validator });
    // The user registry: the Lambda validates bodies itself (the token must never be echoed by a gateway message).
    const users = this.api.root.addResource('users');
    users.addMethod('GET', integration, { requestValidator: this.validator });
    const user = users.addResource('{userId}');
    for (const method of ['PUT', 'DELETE']) {
      user.addMethod(method, integration, {
        requestValidator: this.validator,
        requestParameters: { 'method.request.path.userId': true },
      });
    }

    if (props.webhooks !== undefined) {
      const receiver = new LambdaIntegration(props.webhooks.function, { allowTestInvoke: false });
      const method = this.api.root
        .addResource('webhooks')
        .addResource('powens')
        .addResource('{event}')
        .addMethod('POST', receiver, {
          authorizationType: AuthorizationType.NONE,
          requestValidator: this.validator,
          requestParameters: { 'method.request.path.event': true },
        });
      Validations.of(method).acknowledge(
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'Powens calls this route and cannot sign SigV4 or hold AWS credentials. Every delivery is authenticated ' +
            'by the Lambda with the Powens HMAC (BI-Signature over method, path, date and body, constant-time ' +
            'compare, 5-minute date window) before anything is read or written; failures answer 401.',
        },
        {
          id: 'AwsSolutions-COG4',
          reason: 'Webhook caller is Powens, authenticated by its HMAC signature in the Lambda, not a Cognito user.',
        },
      );
    }

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'IAM (SigV4) auth on every method: unsigned requests are rejected before reaching the Lambda, callers are ' +
        'known AWS principals, and stage throttling caps load. A WAF web ACL (~$6/month + rules) adds little here.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason:
        'Access logging is on (JSON, every request). Execution logging needs the per-region account CloudWatch role ' +
        '(AWS::ApiGateway::Account), a singleton shared by all APIs that this stack must not own; enable it per account.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Callers are AWS principals authorised with IAM (SigV4), not Cognito users; every method uses AWS_IAM.',
    });
  }
}
