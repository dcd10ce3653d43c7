/**
 * Human steps, decision steps, conditional transitions (first match, no match), guards, timeouts and compensation:
 * each test spec compiles, passes AWS's ASL language service, and executes in aws-local-stepfunctions.
 */
import { compileWorkflow, type CompileOptions, type CompiledWorkflow } from '../../../infra/compiler/compile';
import type { ChoiceState, TaskState } from '../../../infra/compiler/asl';
import type { WorkflowSpec } from '../../../infra/compiler/spec';
import { RateLimitedError, TimeoutError } from '../../../lambdas/core/errors';
import { aslDiagnostics, LocalWorkflow, TEST_CONTEXT } from '../../support/asl-run';
import { namedError } from '../../support/named-error';
import { TEST_FUNCTIONS, TEST_HUMAN_TASK } from '../../support/specs/bindings';
import { ingestEmailThreadsWorkflow } from '../../support/specs/ingest-email-threads';
import { paymentApprovalWorkflow } from '../../support/specs/payment-approval';
import { ticketRoutingWorkflow } from '../../support/specs/ticket-routing';
import { upcomingPaymentsReminderWorkflow } from '../../support/specs/upcoming-payments-reminder';

const compile = (spec: WorkflowSpec, extra: Partial<CompileOptions> = {}): CompiledWorkflow =>
  compileWorkflow(spec, { functions: TEST_FUNCTIONS, humanTaskBinding: TEST_HUMAN_TASK, ...extra });

const never = () => new Promise(() => undefined);

describe('every test spec and option combination passes the AWS ASL language service', () => {
  const specs = [
    ingestEmailThreadsWorkflow,
    upcomingPaymentsReminderWorkflow,
    paymentApprovalWorkflow,
    ticketRoutingWorkflow,
  ];
  const variants: Partial<CompileOptions>[] = [
    {},
    { noMatch: 'succeed' },
    { optionalChaining: 'contractspec' },
    { enforceSla: true },
  ];
  it.each(specs.flatMap((s) => variants.map((v) => [s.meta.key, JSON.stringify(v), s, v] as const)))(
    '%s %s',
    async (_k, _v, spec, variant) => {
      const compiled = compile(spec, variant);
      expect(await aslDiagnostics(compiled.json)).toEqual([]);
      for (const name of Object.keys(compiled.definition.States)) expect(name.length).toBeLessThanOrEqual(80);
      expect(compile(spec, variant).json).toBe(compiled.json);
    },
  );
});

describe('ingest-email-threads (automation → human on `output?.syncedThreads === 0`)', () => {
  const input = { labelIds: ['INBOX'], maxThreads: 50, syncSinceMinutes: 60 };
  let normalized: LocalWorkflow;
  let quirk: LocalWorkflow;
  let succeedOnNoMatch: LocalWorkflow;
  beforeAll(() => {
    normalized = new LocalWorkflow(compile(ingestEmailThreadsWorkflow));
    quirk = new LocalWorkflow(compile(ingestEmailThreadsWorkflow, { optionalChaining: 'contractspec' }));
    succeedOnNoMatch = new LocalWorkflow(compile(ingestEmailThreadsWorkflow, { noMatch: 'succeed' }));
  });

  it('warns about `?.` and the missing form', () => {
    const codes = compile(ingestEmailThreadsWorkflow).warnings.map((w) => w.code);
    expect(codes).toEqual(expect.arrayContaining(['CONDITION_OPTIONAL_CHAINING', 'HUMAN_WITHOUT_FORM']));
  });

  it('0 threads → the human task gets the token and the data; its answer is kept in its slot', async () => {
    const run = await normalized.run(input, {
      sync: () => ({ syncedThreads: 0 }),
      triage: () => ({ flagged: ['t-1'] }),
    });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.callsOf('sync')[0]?.payload).toEqual(input);
    expect(run.callsOf('triage')[0]?.payload).toEqual({
      taskToken: 'tok',
      step: { id: 'triage', type: 'human' },
      form: null,
      executionId: TEST_CONTEXT.Execution.Id,
      data: { ...input, syncedThreads: 0 },
    });
    expect(run.output).toEqual({
      steps: { sync: { output: { syncedThreads: 0 } }, triage: { output: { flagged: ['t-1'] } } },
    });
  });

  it('5 threads → no transition matches → fails with NoTransitionMatched (ContractSpec runner semantics)', async () => {
    const run = await normalized.run(input, { sync: () => ({ syncedThreads: 5 }) });
    expect(run.error).toEqual({
      Error: 'NoTransitionMatched',
      Cause: 'No transition matched after executing step "sync".',
    });
    expect(run.callsOf('triage')).toHaveLength(0);
  });

  it("noMatch: 'succeed' → 5 threads completes after sync (DevKit semantics)", async () => {
    const run = await succeedOnNoMatch.run(input, { sync: () => ({ syncedThreads: 5 }) });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toEqual({ steps: { sync: { output: { syncedThreads: 5 } } } });
  });

  it("optionalChaining: 'contractspec' reproduces ContractSpec: triage always runs", async () => {
    const run = await quirk.run(input, { sync: () => ({ syncedThreads: 5 }), triage: () => ({}) });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.callsOf('triage')).toHaveLength(1);
  });
});

describe('upcoming-payments-reminder (human entry step)', () => {
  let local: LocalWorkflow;
  let compiled: CompiledWorkflow;
  beforeAll(() => {
    compiled = compile(upcomingPaymentsReminderWorkflow);
    local = new LocalWorkflow(compiled);
  });

  it('the human entry step creates the state itself: no extra state, no merge Pass', () => {
    expect(compiled.definition.StartAt).toBe('collect');
    expect(Object.keys(compiled.definition.States)).toEqual(['collect', 'collect.next', 'collect.noMatch', 'schedule']);
    const collect = compiled.definition.States.collect as TaskState;
    expect(collect.ResultSelector).toEqual({ steps: { collect: { 'output.$': '$' } } });
    expect(collect.ResultPath).toBeUndefined();
    expect((collect.Parameters.Payload as Record<string, unknown>)['data.$']).toBe('$');
  });

  it('confirmed → schedule runs with the merged data; a Timeout error is retried after 1 s (linear)', async () => {
    const input = { billId: 'bill-1' };
    const answer = { confirmed: true, amountCents: 1200, currency: 'EUR' };
    const run = await local.run(input, {
      collect: () => answer,
      schedule: (_p, { attempt }) => {
        if (attempt === 1) throw new TimeoutError('upstream 504');
        return { reminderId: 'r-1' };
      },
    });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.gapsOf('schedule')).toEqual([1000]);
    expect(run.callsOf('schedule')[0]?.payload).toEqual({ ...input, ...answer });
    expect(run.output).toEqual({ steps: { collect: { output: answer }, schedule: { output: { reminderId: 'r-1' } } } });
  });

  it('not confirmed → NoTransitionMatched, schedule never runs', async () => {
    const run = await local.run({ billId: 'b' }, { collect: () => ({ confirmed: false }) });
    expect(run.error?.Error).toBe('NoTransitionMatched');
    expect(run.callsOf('schedule')).toHaveLength(0);
  });
});

describe('payment-approval (decision, human with form, guard, timeout, compensation)', () => {
  let local: LocalWorkflow;
  let compiled: CompiledWorkflow;
  beforeAll(() => {
    compiled = compile(paymentApprovalWorkflow);
    local = new LocalWorkflow(compiled);
  });
  const reserve = () => ({ reservationId: 'res-1' });
  const charge = () => ({ chargeId: 'ch-1' });
  const notify = () => ({ notified: true });
  const ok = { reserve, charge, notify, review: () => ({ approved: true }) };

  it('compiles the decision to a Choice in first-match order with the unconditional edge as Default', () => {
    const route = compiled.definition.States.route as ChoiceState;
    expect(route.Type).toBe('Choice');
    expect(route.Choices.map((c) => c.Next)).toEqual(['review', 'charge.guard']);
    expect(route.Default).toBe('review');
    const chargeTask = compiled.definition.States.charge as TaskState;
    expect(chargeTask.TimeoutSeconds).toBe(3); // 2500 ms rounded up
    expect(chargeTask.Retry?.[0]).toMatchObject({
      IntervalSeconds: 1,
      MaxAttempts: 4,
      BackoffRate: 2,
      MaxDelaySeconds: 3,
    });
    expect((compiled.definition.States.notify as TaskState).Retry).toBeUndefined();
    expect(compiled.definition.States.WorkflowFailed).toEqual({
      Type: 'Fail',
      Comment: expect.any(String),
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
  });

  it('fast lane (2nd condition) skips review; each function gets the data so far; review keeps a not-run slot', async () => {
    const input = { amount: 50, currency: 'EUR', priority: 'high' };
    const run = await local.run(input, ok);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.calls.map((c) => c.state)).toEqual(['reserve', 'charge', 'notify']);
    expect(run.callsOf('reserve')[0]?.payload).toEqual({ ...input, executionId: TEST_CONTEXT.Execution.Id });
    expect(run.callsOf('charge')[0]?.payload).toEqual({ ...input, reservationId: 'res-1' });
    expect(run.callsOf('notify')[0]?.payload).toEqual({ ...input, reservationId: 'res-1', chargeId: 'ch-1' });
    expect(run.output).toEqual({
      steps: {
        reserve: { output: { reservationId: 'res-1' } },
        review: { output: {}, skipped: true },
        charge: { output: { chargeId: 'ch-1' } },
        notify: { output: { notified: true } },
      },
    });
  });

  it('through review: the answer is part of the data charge receives, and of what conditions read', async () => {
    const input = { amount: 5000, currency: 'EUR' };
    const run = await local.run(input, { ...ok, review: () => ({ approved: true, approver: 'ada' }) });
    expect(run.callsOf('charge')[0]?.payload).toEqual({
      ...input,
      reservationId: 'res-1',
      approved: true,
      approver: 'ada',
    });
  });

  it('first match wins: a large high-priority amount goes to review although the 2nd condition also holds', async () => {
    const run = await local.run({ amount: 5000, currency: 'EUR', priority: 'high' }, ok);
    expect(run.calls.map((c) => c.state)).toEqual(['reserve', 'review', 'charge', 'notify']);
    expect(run.callsOf('review')[0]?.payload).toMatchObject({ taskToken: 'tok', form: 'test.forms.approval@1.0.0' });
  });

  it('no condition holds → the unconditional edge (review)', async () => {
    const run = await local.run({ amount: 10, currency: 'EUR' }, ok);
    expect(run.calls.map((c) => c.state)).toEqual(['reserve', 'review', 'charge', 'notify']);
  });

  it('review rejects → no match → completed steps compensated in reverse order, then NoTransitionMatched', async () => {
    const input = { amount: 10, currency: 'EUR' };
    const run = await local.run(input, {
      ...ok,
      review: () => ({ approved: false }),
      'review.compensate': () => ({}),
      'reserve.compensate': () => ({}),
    });
    expect(run.calls.map((c) => c.state)).toEqual(['reserve', 'review', 'review.compensate', 'reserve.compensate']);
    expect(run.error).toEqual({
      Error: 'NoTransitionMatched',
      Cause: 'No transition matched after executing step "review".',
    });
    expect(run.callsOf('reserve.compensate')[0]?.payload).toEqual({
      stepId: 'reserve',
      originalInput: input,
      originalOutput: { reservationId: 'res-1' },
      workflowData: { ...input, reservationId: 'res-1', approved: false },
      error: { Error: 'NoTransitionMatched', Cause: 'No transition matched after executing step "review".' },
    });
    expect(run.callsOf('review.compensate')[0]?.payload).toMatchObject({
      stepId: 'review',
      originalInput: { ...input, reservationId: 'res-1' },
      originalOutput: { approved: false },
    });
  });

  it('charge hangs: each attempt times out after 3 s and is retried (1, 2, 3, 3 s), then reserve is compensated', async () => {
    const run = await local.run(
      { amount: 10, currency: 'EUR', priority: 'high' },
      {
        reserve,
        charge: never,
        'reserve.compensate': () => ({}),
      },
    );
    expect(run.callsOf('charge')).toHaveLength(5);
    expect(run.gapsOf('charge')).toEqual([3000 + 1000, 3000 + 2000, 3000 + 3000, 3000 + 3000]);
    expect(run.calls.map((c) => c.state).slice(-1)).toEqual(['reserve.compensate']);
    expect(run.error?.Error).toBe('States.Timeout');
  });

  it('guard false (currency USD) → charge never runs, reserve compensated, GuardRejected', async () => {
    const run = await local.run(
      { amount: 10, currency: 'USD', priority: 'high' },
      { reserve, 'reserve.compensate': () => ({}) },
    );
    expect(run.calls.map((c) => c.state)).toEqual(['reserve', 'reserve.compensate']);
    expect(run.error).toEqual({
      Error: 'GuardRejected',
      Cause: expect.stringContaining('Guard of step "charge" rejected'),
    });
  });

  it('notify has no retry: a retryable error fails at once; compensations are best effort (a failing one is skipped)', async () => {
    const run = await local.run(
      { amount: 10, currency: 'EUR', priority: 'high' },
      {
        reserve,
        charge,
        notify: () => {
          throw new RateLimitedError('429');
        },
        'charge.compensate': () => {
          throw namedError('InternalError', 'refund failed');
        },
        'reserve.compensate': () => ({}),
      },
    );
    expect(run.calls.map((c) => c.state)).toEqual([
      'reserve',
      'charge',
      'notify',
      'charge.compensate',
      'reserve.compensate',
    ]);
    expect(run.error).toEqual({ Error: 'RateLimited', Cause: '429' });
  });

  it('the entry step failing compensates nothing', async () => {
    const run = await local.run(
      { amount: 1, currency: 'EUR' },
      { reserve: () => Promise.reject(namedError('Forbidden', 'no')) },
    );
    expect(run.calls.map((c) => c.state)).toEqual(['reserve']);
    expect(run.error).toEqual({ Error: 'Forbidden', Cause: 'no' });
  });
});

describe('ticket-routing (decision entry step, &&/||/! conditions, no fallback edge)', () => {
  let local: LocalWorkflow;
  let succeed: LocalWorkflow;
  beforeAll(() => {
    local = new LocalWorkflow(compile(ticketRoutingWorkflow));
    succeed = new LocalWorkflow(compile(ticketRoutingWorkflow, { noMatch: 'succeed' }));
  });
  const handlers = { escalate: () => ({ escalated: true }), reply: () => ({ replied: true }) };

  it.each([
    [{ severity: 5 }, 'escalate'],
    [{ severity: 5, muted: true }, 'reply'],
    [{ severity: 1, vip: true }, 'escalate'], // output.* of a decision reads its input
    [{ severity: 2 }, 'reply'],
  ])('%j → %s', async (input, expected) => {
    const run = await local.run(input, handlers);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.calls.map((c) => c.state)).toEqual([expected]);
  });

  it('severity 0 matches nothing: fails by default, succeeds with noMatch succeed (output = the initial state)', async () => {
    expect((await local.run({ severity: 0 }, handlers)).error?.Error).toBe('NoTransitionMatched');
    const run = await succeed.run({ severity: 0 }, handlers);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toEqual({ steps: {} });
  });

  it('reply (timeoutMs 1500 → 2 s, no retry) times out once and fails with States.Timeout', async () => {
    const run = await local.run({ severity: 1 }, { reply: never });
    expect(run.callsOf('reply')).toHaveLength(1);
    expect(run.error?.Error).toBe('States.Timeout');
  });
});
