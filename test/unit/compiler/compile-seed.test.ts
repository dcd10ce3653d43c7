/**
 * The seed spec (verbatim from ContractSpec) compiled and executed in aws-local-stepfunctions under fake timers.
 * Retry expectations come from docs/contractspec-semantics.md §2.3 / §3.5 (1000·2^(k−1) ms and constant 750 ms),
 * rounded up to whole seconds.
 */
import { compileWorkflow, type CompiledWorkflow } from '../../../infra/compiler/compile';
import type { TaskState } from '../../../infra/compiler/asl';
import { stepFunctionsByOperation } from '../../../infra/specs/bindings';
import { refreshOpenBankingBalancesWorkflow } from '../../../infra/specs';
import {
  ASL_RETRYABLE_ERROR_NAMES,
  NotFoundError,
  PERMANENT_ERROR_NAMES,
  RateLimitedError,
  ServiceUnavailableError,
} from '../../../lambdas/core/errors';
import { aslDiagnostics, LocalWorkflow, TEST_CONTEXT } from '../../support/asl-run';
import { namedError } from '../../support/named-error';

const RETRYABLE = [...ASL_RETRYABLE_ERROR_NAMES];

let compiled: CompiledWorkflow;
let local: LocalWorkflow;

beforeAll(() => {
  compiled = compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() });
  local = new LocalWorkflow(compiled);
});

const task = (name: string): TaskState => compiled.definition.States[name] as TaskState;

describe('seed compilation', () => {
  it('emits the exact retriers ContractSpec semantics require', () => {
    expect(task('refresh-balances').Retry).toEqual([
      { ErrorEquals: RETRYABLE, IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'NONE' },
    ]);
    // linear 750 ms → constant delay, rounded up to 1 s
    expect(task('fetch-balances').Retry).toEqual([
      { ErrorEquals: RETRYABLE, IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 1, JitterStrategy: 'NONE' },
    ]);
  });

  it('emits the whole Task shape: lambda:invoke, data payload, output kept once in its slot, timeout, transitions', () => {
    expect(compiled.definition.StartAt).toBe('refresh-balances');
    // No state besides the two steps: 2 transitions per execution.
    expect(Object.keys(compiled.definition.States)).toEqual(['refresh-balances', 'fetch-balances']);
    expect(task('refresh-balances')).toEqual({
      Type: 'Task',
      Comment: 'Refresh Balances',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: '${openbanking_balances_refresh_1_0_0_FunctionArn}',
        // The execution input plus executionId (the function asked for it: execution markers).
        'Payload.$': `States.JsonMerge($, States.StringToJson(States.Format('\\{"executionId":"{}"\\}', $$.Execution.Id)), false)`,
      },
      // The entry creates the state: one slot per step, the input stays in $$.Execution.Input.
      ResultSelector: { steps: { 'refresh-balances': { 'output.$': '$.Payload' } } },
      TimeoutSeconds: 300 + 5,
      Retry: expect.any(Array),
      Next: 'fetch-balances',
    });
    expect(task('fetch-balances')).toEqual({
      Type: 'Task',
      Comment: 'Fetch Balances',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: '${openbanking_balances_get_1_0_0_FunctionArn}',
        'Payload.$':
          'States.JsonMerge(States.StringToJson(States.JsonToString($$.Execution.Input)), $.steps.refresh-balances.output, false)',
      },
      ResultSelector: { 'output.$': '$.Payload' },
      ResultPath: '$.steps.fetch-balances',
      TimeoutSeconds: 120 + 5,
      Retry: expect.any(Array),
      End: true,
    });
    expect(compiled.substitutions).toEqual([
      'openbanking_balances_get_1_0_0_FunctionArn',
      'openbanking_balances_refresh_1_0_0_FunctionArn',
    ]);
    expect(compiled.stateNames).toEqual({ 'refresh-balances': 'refresh-balances', 'fetch-balances': 'fetch-balances' });
    expect(compiled.warnings).toEqual([]);
  });

  it('lists every retryable name in the single retrier, and no permanent name nor States.ALL', () => {
    for (const name of ['refresh-balances', 'fetch-balances']) {
      const retry = task(name).Retry ?? [];
      expect(retry).toHaveLength(1);
      const errors = retry[0]?.ErrorEquals ?? [];
      for (const retryable of ASL_RETRYABLE_ERROR_NAMES) expect(errors).toContain(retryable);
      for (const permanent of PERMANENT_ERROR_NAMES) expect(errors).not.toContain(permanent);
      expect(errors).not.toContain('States.ALL');
      expect(errors).not.toContain('States.TaskFailed');
    }
  });

  it('is deterministic and json is exactly JSON.stringify(definition, null, 2)', () => {
    const again = compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() });
    expect(again.json).toBe(compiled.json);
    expect(compiled.json).toBe(JSON.stringify(compiled.definition, null, 2));
  });

  it('passes the AWS language-service validation with zero diagnostics', async () => {
    expect(await aslDiagnostics(compiled.json)).toEqual([]);
  });

  it('flags the 750 ms → 1 s rounding in the fidelity report', () => {
    const fetch = compiled.report.steps.find((s) => s.stepId === 'fetch-balances');
    expect(fetch?.retry?.specDelaysMs).toEqual([750, 750]);
    expect(fetch?.retry?.aslDelaysSeconds).toEqual([1, 1]);
    expect(fetch?.retry?.deviations).toEqual(['retry 1: 750 ms → 1 s', 'retry 2: 750 ms → 1 s']);
    const refresh = compiled.report.steps.find((s) => s.stepId === 'refresh-balances');
    expect(refresh?.retry).toMatchObject({
      specDelaysMs: [1000, 2000, 4000],
      aslDelaysSeconds: [1, 2, 4],
      exact: true,
      maxInvocations: 4,
    }); // fetch-balances merges refresh-balances' output (needs an object); nothing merges fetch-balances' output.
    expect(refresh?.notes.map((n) => n.kind)).toContain('output-merge');
    expect(fetch?.notes.map((n) => n.kind)).not.toContain('output-merge');
  });
});

describe('seed execution (aws-local-stepfunctions, fake timers)', () => {
  const input = { tenantId: 't-1', accountId: 'acc-1' };
  const refreshOutput = { balances: [{ id: 'b-1', currentBalance: 10 }], refreshedAt: '2026-01-01T00:00:00.000Z' };
  const fetchOutput = { balances: [{ id: 'b-1', currentBalance: 10 }], asOf: '2026-01-01T00:00:01.000Z' };

  it('plain functions: each gets the workflow data, returns its output; the execution output holds each output once', async () => {
    const run = await local.run(input, {
      'refresh-balances': () => refreshOutput,
      'fetch-balances': () => fetchOutput,
    });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.calls.map((c) => c.state)).toEqual(['refresh-balances', 'fetch-balances']);
    expect(run.calls[0]?.functionName).toBe('${openbanking_balances_refresh_1_0_0_FunctionArn}');
    expect(run.calls[0]?.payload).toEqual({ ...input, executionId: TEST_CONTEXT.Execution.Id });
    // data = input merged with the completed outputs; fetch-balances did not ask for the execution id.
    expect(run.calls[1]?.payload).toEqual({ ...input, ...refreshOutput });
    expect(run.output).toEqual({
      steps: { 'refresh-balances': { output: refreshOutput }, 'fetch-balances': { output: fetchOutput } },
    });
  });

  it('last writer wins at the top level, and the execution input is not changed by the merge', async () => {
    const withBalances = { ...input, balances: ['from-input'] };
    const run = await local.run(withBalances, {
      'refresh-balances': () => refreshOutput,
      'fetch-balances': () => fetchOutput,
    });
    expect(run.calls[1]?.payload).toEqual({ ...input, ...refreshOutput });
    expect(withBalances.balances).toEqual(['from-input']);
  });

  it.each([null, [1, 2], 'done'])(
    'deviation: a non-object output (%j) cannot be merged; the next Task fails instead of skipping it',
    async (output) => {
      const run = await local.run(input, { 'refresh-balances': () => output, 'fetch-balances': () => fetchOutput });
      expect(run.status).toBe('FAILED');
      expect(run.callsOf('fetch-balances')).toHaveLength(0);
    },
  );

  it.each([1, 2, 3, 4])(
    'refresh-balances failing %i time(s) with RateLimited runs min(k, 3) + 1 times, waiting 1 s, 2 s, 4 s',
    async (k) => {
      const run = await local.run(input, {
        'refresh-balances': (_p, { attempt }) => {
          if (attempt <= k) throw new RateLimitedError(`429 #${attempt}`);
          return refreshOutput;
        },
        'fetch-balances': () => fetchOutput,
      });
      const calls = Math.min(k, 3) + 1;
      expect(run.callsOf('refresh-balances')).toHaveLength(calls);
      expect(run.gapsOf('refresh-balances')).toEqual([1000, 2000, 4000].slice(0, calls - 1));
      if (k <= 3) expect(run.status).toBe('SUCCEEDED');
      else expect(run.error).toEqual({ Error: 'RateLimited', Cause: '429 #4' });
    },
  );

  it('fetch-balances retries twice with a constant 1 s wait, then fails with the step error', async () => {
    const run = await local.run(input, {
      'refresh-balances': () => refreshOutput,
      'fetch-balances': () => {
        throw new ServiceUnavailableError('503');
      },
    });
    expect(run.callsOf('fetch-balances')).toHaveLength(3);
    expect(run.gapsOf('fetch-balances')).toEqual([1000, 1000]);
    expect(run.status).toBe('FAILED');
    expect(run.error?.Error).toBe('ServiceUnavailable');
  });

  it.each([...PERMANENT_ERROR_NAMES])('a permanent %s fails at once (one invocation)', async (name) => {
    const run = await local.run(input, {
      'refresh-balances': () => {
        throw namedError(name);
      },
    });
    expect(run.callsOf('refresh-balances')).toHaveLength(1);
    expect(run.error?.Error).toBe(name);
  });

  it('an unclassified error (TypeError) is not retried', async () => {
    const run = await local.run(input, {
      'refresh-balances': () => {
        throw new TypeError('boom');
      },
    });
    expect(run.callsOf('refresh-balances')).toHaveLength(1);
    expect(run.error?.Error).toBe('TypeError');
  });

  it('a Task timeout (States.Timeout after TimeoutSeconds) is retried on the same schedule', async () => {
    const run = await local.run(input, {
      'refresh-balances': (_p, { attempt }) => (attempt === 1 ? new Promise(() => undefined) : refreshOutput),
      'fetch-balances': () => fetchOutput,
    });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.callsOf('refresh-balances')).toHaveLength(2);
    // 305 s Task timeout, then the 1 s first back-off
    expect(run.gapsOf('refresh-balances')).toEqual([305_000 + 1_000]);
  });

  it('Lambda throttling (Lambda.TooManyRequestsException) is retried; a permanent NotFound after it stops the retries', async () => {
    const run = await local.run(input, {
      'refresh-balances': (_p, { attempt }) => {
        if (attempt === 1) throw namedError('Lambda.TooManyRequestsException');
        throw new NotFoundError('account gone');
      },
    });
    expect(run.callsOf('refresh-balances')).toHaveLength(2);
    expect(run.error).toEqual({ Error: 'NotFound', Cause: 'account gone' });
  });
});
