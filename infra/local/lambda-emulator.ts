import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';

/** A step function as the local run sees it: one bundled handler invoked the way the Lambda service would. */
export interface LocalFunction {
  readonly name: string;
  invoke(payload: unknown): Promise<unknown>;
}

export interface LocalFunctionOptions {
  name: string;
  /** Lambda timeout: an invocation still running after it fails like AWS's (Lambda.Unknown through lambda:invoke). */
  timeoutSeconds: number;
  memoryMb: number;
  region: string;
}

type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * Error thrown the way Step Functions sees a failed Lambda: `name` is the handler's error name (what Retry/Catch
 * match) and the message is the JSON `Cause` AWS would record ({errorType, errorMessage}).
 */
export class LambdaInvocationError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

let instances = 0;

/**
 * Loads a bundle built by infra/bundling.ts (the artefact CDK deploys) and exposes its `handler`. Every load is a
 * fresh module instance, like a Lambda cold start: module-scope configuration is read again from the environment.
 */
export async function loadBundledFunction(bundlePath: string, options: LocalFunctionOptions): Promise<LocalFunction> {
  instances += 1;
  const mod = (await import(`${pathToFileURL(bundlePath).href}?instance=${instances}`)) as { handler?: unknown; default?: { handler?: unknown } };
  const handler = (mod.handler ?? mod.default?.handler) as LambdaHandler | undefined;
  if (typeof handler !== 'function') {
    throw new Error(`Bundle ${bundlePath} exports no "handler" function; check the entry in infra/workflows/bindings.ts.`);
  }
  return emulateLambda(handler, options);
}

export function emulateLambda(handler: LambdaHandler, options: LocalFunctionOptions): LocalFunction {
  return {
    name: options.name,
    async invoke(payload: unknown): Promise<unknown> {
      const deadline = Date.now() + options.timeoutSeconds * 1000;
      const requestId = randomUUID();
      const context: Context = {
        callbackWaitsForEmptyEventLoop: true,
        functionName: options.name,
        functionVersion: '$LATEST',
        invokedFunctionArn: `arn:aws:lambda:${options.region}:000000000000:function:${options.name}`,
        memoryLimitInMB: String(options.memoryMb),
        awsRequestId: requestId,
        logGroupName: `/aws/lambda/${options.name}`,
        logStreamName: `local/${requestId}`,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        done: () => undefined,
        fail: () => undefined,
        succeed: () => undefined,
      };
      // Lambda hands the function a JSON document and returns a JSON document: round-trip both so Dates, undefined
      // and class instances behave exactly as they would in AWS.
      const event = roundTrip(payload);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new LambdaInvocationError('Lambda.Unknown', `Task timed out after ${options.timeoutSeconds} seconds`)),
          options.timeoutSeconds * 1000,
        );
        timer.unref();
      });
      try {
        return roundTrip(await Promise.race([handler(event, context), timeout]));
      } catch (error) {
        if (error instanceof LambdaInvocationError) throw error;
        const name = error instanceof Error ? error.name : 'Error';
        const message = error instanceof Error ? error.message : String(error);
        throw new LambdaInvocationError(name, message);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function roundTrip(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}
