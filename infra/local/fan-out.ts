import './node-compat';
import path from 'node:path';
import { buildLambda } from '../bundling';
import type { StateMachineDefinition } from '../compiler/asl';
import { DEFAULT_FAN_OUT } from '../constructs/fan-out-state-machine';
import type { FanOutSummary } from '../../lambdas/core/domain/fan-out';
import { ENV } from '../../lambdas/core/env-names';
import { executeLocally, type ExecutionReport, type ProgressEvent } from './execute';
import {
  FAN_OUT_PAGE_PLACEHOLDER,
  localTokenResolver,
  renderDefinition,
  synthesizeFanOutDefinition,
} from './fan-out-definition';
import { startBundledFunction, type LocalFunction } from './lambda-emulator';
import { openLocalAws, type LocalResources, type LocalRunOptions } from './run';

/**
 * The fan-out on this machine (`npm start -- --users N`): the FanOutStateMachine's ASL as CDK synthesizes it, executed
 * by aws-local-stepfunctions; NextPage runs the fan-out-page bundle; each Map item's
 * `states:startExecution.sync:2` runs the compiled seed machine, unchanged, as a local child execution with the same
 * bundles as `npm start`.
 *
 * Where local differs from AWS (aws-local-stepfunctions 3 runs a DISTRIBUTED Map as an inline Map: it honours
 * MaxConcurrency but ignores ToleratedFailurePercentage and fails the Map on the first failed item):
 * - Tolerance is emulated in the startExecution stand-in below: a failed child is answered as DescribeExecution would
 *   describe it (`Status: FAILED`) while the page's failed children stay within ToleratedFailurePercentage of the
 *   page's items; the failure that exceeds it throws `States.ExceedToleratedFailureThreshold`, the error AWS fails
 *   the Map Run with. In AWS a tolerated failed item's result entry is the error, not a description; the fan-out's
 *   summary counts both as failed (lambdas/core/domain/fan-out.ts), so the outcome is the same.
 * - Children are in-process executions, not separate Step Functions executions (no map-run or child ARNs to look up).
 */
export interface LocalFanOutOptions extends LocalRunOptions {
  /** Distributed Map MaxConcurrency (default as deployed). */
  maxConcurrency?: number;
  /** Distributed Map ToleratedFailurePercentage (default as deployed). */
  toleratedFailurePercentage?: number;
  /** Users per NextPage page (FANOUT_PAGE_SIZE; default 500 as deployed). */
  pageSize?: number;
  /**
   * Progress of the users: `done` of `total` children finished, `failed` of them failed; `skipped` users NextPage
   * left out so far (fresh, see lambdas/core/domain/fan-out.ts), who get no child.
   */
  onUserProgress?: (progress: {
    done: number;
    total: number;
    failed: number;
    skipped: number;
    userId: number;
    status: string;
  }) => void;
  /**
   * Called once the table, sandbox and webhook receiver are up, before the fan-out starts: tests shape what Powens
   * and the table know first (e.g. the sandbox syncing a connection by itself, delivered as CONNECTION_SYNCED).
   */
  prepare?: (resources: LocalResources) => Promise<void>;
}

export interface ChildRecord {
  userId: number;
  status: 'SUCCEEDED' | 'FAILED';
  transitions: number;
  /** Epoch ms when the child started. */
  startedAt: number;
  durationMs: number;
  error?: string;
}

export interface LocalFanOutResult extends ExecutionReport {
  executionName: string;
  /** The fan-out's output: the summary (counts by outcome, failed user ids), or undefined when it failed. */
  summary?: FanOutSummary;
  children: ChildRecord[];
  /** Largest state (bytes of JSON) any state of the fan-out received or produced: the Map's page, the summary. */
  largestStateBytes: number;
}

const LOCAL_SEED_NAME = 'local-refresh-openbanking-balances';
const THRESHOLD_ERROR = 'States.ExceedToleratedFailureThreshold';

export async function runLocalFanOut(options: LocalFanOutOptions): Promise<LocalFanOutResult> {
  const executionName = options.executionName ?? `local-fan-out-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const tolerated = options.toleratedFailurePercentage ?? DEFAULT_FAN_OUT.toleratedFailurePercentage;
  const stops: (() => Promise<void>)[] = [];
  // Children still running when the Map fails (over the tolerated percentage) keep calling DynamoDB and the sandbox:
  // teardown waits for them, or it would close the table under their writes.
  const runningChildren = new Set<Promise<unknown>>();
  try {
    const local = await openLocalAws(options, stops);
    const region = local.dynamo.region;
    const definition = renderDefinition<StateMachineDefinition>(
      synthesizeFanOutDefinition({
        seedName: LOCAL_SEED_NAME,
        ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
        toleratedFailurePercentage: tolerated,
      }),
      localTokenResolver(region),
    );
    const seedArn = `arn:aws:states:${region}:000000000000:stateMachine:${LOCAL_SEED_NAME}`;

    const built = await buildLambda(
      'lambdas/fan-out-page/handler.ts',
      path.join(local.workDir, 'bundles', 'fan-out-page'),
    );
    const pageFn = startBundledFunction(built.outfile, {
      name: 'fan-out-page',
      timeoutSeconds: 55,
      memoryMb: 256,
      region,
      environment: { ...local.environment, [ENV.fanOutPageSize]: String(options.pageSize ?? 500) },
    });
    stops.push(() => pageFn.close());

    const { resources } = local;
    await options.prepare?.(resources);

    const users = options.sandboxUsers ?? local.powens.sandbox?.secret.users.length ?? 0;
    let largestStateBytes = 0;
    const measure = (value: unknown): void => {
      largestStateBytes = Math.max(largestStateBytes, Buffer.byteLength(JSON.stringify(value ?? null)));
    };
    // The Map Run in progress: the page NextPage just listed, and how many of its children failed.
    let mapRun = { items: 0, failed: 0 };
    /** Set when the stand-in fails a Map Run (ToleratedFailurePercentage exceeded): the cause AWS would give the run. */
    let mapRunFailure: string | undefined;
    let skipped = 0;
    const nextPage: LocalFunction = {
      name: pageFn.name,
      close: () => pageFn.close(),
      invoke: async (payload) => {
        measure(payload);
        const out = (await pageFn.invoke(payload)) as
          { items?: unknown[]; summary?: Partial<FanOutSummary> } | undefined;
        measure(out);
        mapRun = { items: out?.items?.length ?? 0, failed: 0 };
        skipped = out?.summary?.skippedFresh ?? skipped;
        return out;
      },
    };

    const children: ChildRecord[] = [];
    let childCount = 0;
    let failedChildren = 0;
    const startExecutionSync = async (request: { StateMachineArn?: string; Input?: unknown }): Promise<unknown> => {
      if (request.StateMachineArn !== seedArn) {
        throw Object.assign(
          new Error(`StartExecution of ${String(request.StateMachineArn)}: only ${seedArn} exists locally.`),
          {
            name: 'StateMachineDoesNotExist',
          },
        );
      }
      const userId = ((request.Input as { userIds?: number[] } | undefined)?.userIds ?? [])[0] ?? -1;
      const name = `${executionName}-user-${userId}-${++childCount}`;
      const started = Date.now();
      const child = executeLocally({
        definition: local.definition,
        input: request.Input,
        functions: local.functions,
        executionName: name,
        region,
        ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
        ...(options.onProgress ? { onProgress: prefixed(options.onProgress, userId) } : {}),
      });
      runningChildren.add(child);
      const report = await child.finally(() => runningChildren.delete(child));
      const record: ChildRecord = {
        userId,
        status: report.status,
        transitions: report.transitions,
        startedAt: started,
        durationMs: Date.now() - started,
        ...(report.error === undefined ? {} : { error: report.error }),
      };
      children.push(record);
      if (report.status === 'FAILED') failedChildren += 1;
      options.onUserProgress?.({
        done: children.length,
        total: users,
        failed: failedChildren,
        skipped,
        userId,
        status: report.status,
      });
      // What DescribeExecution answers (sync:2: Input and Output as JSON); the task's ResultSelector keeps who and how.
      const description = {
        ExecutionArn: `arn:aws:states:${region}:000000000000:execution:${LOCAL_SEED_NAME}:${name}`,
        StateMachineArn: seedArn,
        Name: name,
        Status: report.status,
        Input: request.Input,
        ...(report.status === 'SUCCEEDED' ? { Output: report.output } : { Error: report.error, Cause: report.cause }),
      };
      if (report.status === 'FAILED') {
        mapRun.failed += 1;
        if (mapRun.items === 0 || (mapRun.failed * 100) / mapRun.items > tolerated) {
          mapRunFailure = `Map Run failed: ${mapRun.failed} of ${mapRun.items} items failed, more than ToleratedFailurePercentage ${tolerated}% (last: user ${userId}, ${report.error ?? 'error'}).`;
          throw Object.assign(new Error(mapRunFailure), { name: THRESHOLD_ERROR });
        }
      }
      return description;
    };

    const report = await executeLocally({
      definition,
      input: options.input ?? {},
      functions: { [FAN_OUT_PAGE_PLACEHOLDER]: nextPage },
      executionName,
      region,
      startExecutionSync,
      ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
    });
    await options.inspect?.(resources);
    // In AWS the Map Run itself fails with this error and its own cause. Here the stand-in throws it from the item,
    // where the item's Catch turns it into the UserRefreshFailed Fail state's short cause: report the Map Run's.
    const failedRun =
      report.status === 'FAILED' && report.error === THRESHOLD_ERROR && mapRunFailure !== undefined
        ? { cause: mapRunFailure }
        : {};
    return {
      ...report,
      ...failedRun,
      executionName,
      ...(report.status === 'SUCCEEDED' ? { summary: report.output as FanOutSummary } : {}),
      children,
      largestStateBytes,
    };
  } finally {
    await Promise.allSettled([...runningChildren]);
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** Child progress events, tagged with the user (state names alone would be ambiguous across children). */
function prefixed(onProgress: (event: ProgressEvent) => void, userId: number): (event: ProgressEvent) => void {
  return (event) => {
    if ('state' in event) onProgress({ ...event, state: `user ${userId} ${event.state}` });
  };
}
