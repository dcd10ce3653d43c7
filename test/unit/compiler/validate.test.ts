/** Invalid specs never produce ASL: compileWorkflow throws WorkflowValidationError with the documented codes. */
import { compileWorkflow } from '../../../infra/compiler/compile';
import type { Step, WorkflowSpec } from '../../../infra/compiler/spec';
import {
  validateWorkflowComprehensive,
  WorkflowValidationError,
  type ValidationIssue,
} from '../../../infra/compiler/validate';
import { stepFunctionsByOperation } from '../../../infra/specs/bindings';
import { TEST_FUNCTIONS, TEST_HUMAN_TASK } from '../../support/specs/bindings';

const REFRESH = { key: 'openbanking.balances.refresh', version: '1.0.0' };
const GET = { key: 'openbanking.balances.get', version: '1.0.0' };

function auto(id: string, extra: Partial<Step> = {}): Step {
  return { id, type: 'automation', label: id, action: { operation: REFRESH }, ...extra };
}

function spec(definition: Partial<WorkflowSpec['definition']>): WorkflowSpec {
  return {
    meta: { key: 'test.invalid', version: '1.0.0', description: 'd', stability: 'experimental', owners: [], tags: [] },
    definition: {
      steps: [auto('a'), auto('b', { action: { operation: GET } })],
      transitions: [{ from: 'a', to: 'b' }],
      ...definition,
    },
  };
}

function issuesOf(s: WorkflowSpec): ValidationIssue[] {
  try {
    compileWorkflow(s, { functions: stepFunctionsByOperation() });
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowValidationError);
    expect((error as Error).name).toBe('WorkflowValidationError');
    return [...(error as WorkflowValidationError).issues];
  }
  throw new Error('expected compileWorkflow to throw');
}

describe('compileWorkflow rejects invalid specs with documented codes', () => {
  const cases: [string, WorkflowSpec, string, string][] = [
    ['empty steps', spec({ steps: [], transitions: [] }), 'EMPTY_STEPS', 'definition.steps'],
    [
      'duplicate id',
      spec({ steps: [auto('a'), auto('a')], transitions: [] }),
      'DUPLICATE_STEP_ID',
      'definition.steps[1].id',
    ],
    ['unknown entry', spec({ entryStepId: 'nope' }), 'UNKNOWN_ENTRY_STEP', 'definition.entryStepId'],
    [
      'unknown transition endpoint',
      spec({ transitions: [{ from: 'a', to: 'zz' }] }),
      'UNKNOWN_TRANSITION_ENDPOINT',
      'definition.transitions[0].to',
    ],
    [
      'whitespace condition',
      spec({ transitions: [{ from: 'a', to: 'b', condition: '  ' }] }),
      'EMPTY_CONDITION',
      'definition.transitions[0].condition',
    ],
    ['unreachable step', spec({ transitions: [] }), 'UNREACHABLE_STEP', 'definition.steps[1]'],
    [
      'cycle',
      spec({
        transitions: [
          { from: 'a', to: 'b' },
          { from: 'b', to: 'a' },
        ],
      }),
      'CYCLE',
      'definition.transitions',
    ],
    [
      'maxAttempts 0',
      spec({ steps: [auto('a', { retry: { maxAttempts: 0, backoff: 'linear', delayMs: 100 } }), auto('b')] }),
      'RETRY_MAX_ATTEMPTS_INVALID',
      'definition.steps[0].retry.maxAttempts',
    ],
    [
      'delayMs 0',
      spec({ steps: [auto('a'), auto('b', { retry: { maxAttempts: 2, backoff: 'linear', delayMs: 0 } })] }),
      'RETRY_DELAY_INVALID',
      'definition.steps[1].retry.delayMs',
    ],
    [
      'non-integer maxAttempts (ASL)',
      spec({ steps: [auto('a', { retry: { maxAttempts: 2.5, backoff: 'linear', delayMs: 100 } }), auto('b')] }),
      'RETRY_MAX_ATTEMPTS_NOT_ASL',
      'definition.steps[0].retry.maxAttempts',
    ],
    [
      'MaxDelaySeconds above 31622400 (ASL)',
      spec({
        steps: [
          auto('a', { retry: { maxAttempts: 2, backoff: 'exponential', delayMs: 100, maxDelayMs: 40_000_000_000 } }),
          auto('b'),
        ],
      }),
      'RETRY_MAX_DELAY_TOO_LARGE',
      'definition.steps[0].retry.maxDelayMs',
    ],
    [
      'unbound operation',
      spec({ steps: [auto('a'), auto('b', { action: { operation: { key: 'x.y', version: '2.0.0' } } })] }),
      'UNBOUND_OPERATION',
      'definition.steps[1].action.operation',
    ],
    [
      'automation without operation',
      spec({ steps: [auto('a'), { id: 'b', type: 'automation', label: 'b' }] }),
      'AUTOMATION_WITHOUT_OPERATION',
      'definition.steps[1].action.operation',
    ],
    [
      'human step without humanTaskBinding',
      spec({ steps: [auto('a'), { id: 'b', type: 'human', label: 'b' }] }),
      'HUMAN_TASK_BINDING_REQUIRED',
      'definition.steps[1]',
    ],
    [
      'guard reading output',
      spec({
        steps: [
          auto('a'),
          auto('b', { action: { operation: GET }, guard: { type: 'expression', value: 'output.ok === true' } }),
        ],
      }),
      'GUARD_READS_OUTPUT',
      'definition.steps[1].guard.value',
    ],
    [
      'blank guard',
      spec({
        steps: [auto('a', { guard: { type: 'expression', value: ' ' } }), auto('b', { action: { operation: GET } })],
      }),
      'EMPTY_GUARD',
      'definition.steps[0].guard.value',
    ],
    [
      'state name too long',
      spec({ steps: [auto('x'.repeat(70))], transitions: [] }),
      'STATE_NAME_TOO_LONG',
      'definition.steps[0].id',
    ],
    ['SLA total <= 0', spec({ sla: { totalDurationMs: 0 } }), 'SLA_TOTAL_INVALID', 'definition.sla.totalDurationMs'],
    [
      'compensation for unknown step',
      spec({ compensation: { trigger: 'on_failure', steps: [{ stepId: 'ghost', operation: GET }] } }),
      'COMPENSATION_UNKNOWN_STEP',
      'definition.compensation.steps[0].stepId',
    ],
    [
      'compensation op without version',
      spec({ compensation: { trigger: 'manual', steps: [{ stepId: 'a', operation: { key: 'k', version: '' } }] } }),
      'COMPENSATION_OPERATION_INCOMPLETE',
      'definition.compensation.steps[0].operation',
    ],
  ];

  it.each(cases.map(([n, s, c, p]) => [n, c, s, p] as const))('%s → %s', (_name, code, s, path) => {
    const issues = issuesOf(s);
    const issue = issues.find((i) => i.code === code);
    expect(issue).toMatchObject({ level: 'error', code, path });
    expect(issue?.message.length).toBeGreaterThan(20);
  });

  it('messages name the step, the field, the value and a fix', () => {
    const issue = issuesOf(
      spec({ steps: [auto('a'), auto('b', { retry: { maxAttempts: 2, backoff: 'linear', delayMs: -5 } })] }),
    ).find((i) => i.code === 'RETRY_DELAY_INVALID');
    expect(issue?.stepId).toBe('b');
    expect(issue?.message).toMatch(/Step "b".*retry\.delayMs is -5.*positive number of milliseconds/);
  });

  it('an unbound operation names the step, the operation and the bound ones; the error message lists it', () => {
    const s = spec({ steps: [auto('a'), auto('b', { action: { operation: { key: 'x.y', version: '2.0.0' } } })] });
    expect(() => compileWorkflow(s, { functions: stepFunctionsByOperation() })).toThrow(
      /UNBOUND_OPERATION.*step "b" is operation x\.y@2\.0\.0, which no function implements \(bound: openbanking\.balances\.refresh@1\.0\.0, openbanking\.balances\.get@1\.0\.0\)/s,
    );
  });

  it('a step id that is not a plain JSONPath key is refused (it names a state slot in intrinsic arguments)', () => {
    const issue = issuesOf(
      spec({
        steps: [auto('a'), auto('b c', { action: { operation: GET } })],
        transitions: [{ from: 'a', to: 'b c' }],
      }),
    ).find((i) => i.code === 'STEP_ID_INVALID');
    expect(issue).toMatchObject({ level: 'error', stepId: 'b c' });
  });

  it('a payload merging more outputs than 10 nested intrinsic functions allow is refused, naming the step', () => {
    const ids = Array.from({ length: 11 }, (_, i) => `s${i}`);
    const chain = spec({
      steps: ids.map((id) => auto(id, { action: { operation: GET } })),
      transitions: ids.slice(1).map((id, i) => ({ from: ids[i] as string, to: id })),
    });
    const issues = issuesOf(chain);
    expect(issues.map((i) => i.code)).toEqual(['DATA_MERGE_TOO_DEEP', 'DATA_MERGE_TOO_DEEP']);
    expect(issues[0]?.message).toMatch(
      /payload of step "s9" merges the execution input with 9 step outputs: 11 nested intrinsic functions/,
    );
    // Nine steps (8 earlier outputs at most) still compile.
    const nine = spec({
      steps: ids.slice(0, 9).map((id) => auto(id, { action: { operation: GET } })),
      transitions: ids.slice(1, 9).map((id, i) => ({ from: ids[i] as string, to: id })),
    });
    expect(() => compileWorkflow(nine, { functions: stepFunctionsByOperation() })).not.toThrow();
  });

  it('allowUnboundOperations compiles with a placeholder function and keeps a warning', () => {
    const s = spec({ steps: [auto('a'), auto('b', { action: { operation: { key: 'x.y', version: '2.0.0' } } })] });
    const compiled = compileWorkflow(s, { functions: stepFunctionsByOperation(), allowUnboundOperations: true });
    expect(compiled.substitutions).toContain('x_y_2_0_0_FunctionArn');
    expect(compiled.warnings.map((w) => w.code)).toContain('UNBOUND_OPERATION');
  });
});

describe('warnings do not block compilation', () => {
  it.each(
    [
      [
        'maxDelayMs < delayMs',
        spec({
          steps: [
            auto('a', { retry: { maxAttempts: 2, backoff: 'linear', delayMs: 2000, maxDelayMs: 1000 } }),
            auto('b', { action: { operation: GET } }),
          ],
        }),
        'RETRY_MAX_DELAY_BELOW_DELAY',
      ],
      [
        'policy guard',
        spec({
          steps: [
            auto('a', { guard: { type: 'policy', value: 'finance.admin' } }),
            auto('b', { action: { operation: GET } }),
          ],
        }),
        'POLICY_GUARD_NOT_ENFORCED',
      ],
      [
        'constant condition',
        spec({ transitions: [{ from: 'a', to: 'b', condition: 'yes please' }] }),
        'CONDITION_CONSTANT',
      ],
      [
        'shadowed transition',
        spec({
          steps: [auto('a'), auto('b', { action: { operation: GET } }), auto('c', { action: { operation: GET } })],
          transitions: [
            { from: 'a', to: 'b' },
            { from: 'a', to: 'c' },
          ],
        }),
        'TRANSITION_SHADOWED',
      ],
      [
        'multiple roots',
        spec({
          steps: [auto('a'), auto('b', { action: { operation: GET } }), auto('c', { action: { operation: GET } })],
          transitions: [
            { from: 'a', to: 'b' },
            { from: 'c', to: 'b' },
          ],
          entryStepId: 'a',
        }),
        'MULTIPLE_ENTRY_CANDIDATES',
      ],
    ].map(([n, s, c]) => [n, c, s] as [string, string, WorkflowSpec]),
  )('%s → %s', (_n, code, s) => {
    const issues = validateWorkflowComprehensive(s);
    const compiledWarnings = (() => {
      try {
        return compileWorkflow(s, { functions: TEST_FUNCTIONS, humanTaskBinding: TEST_HUMAN_TASK }).warnings;
      } catch (error) {
        return (error as WorkflowValidationError).issues;
      }
    })();
    const all = [...issues, ...compiledWarnings];
    expect(all.find((i) => i.code === code)).toMatchObject({ level: 'warning' });
  });

  it('a constant-false-only step goes straight to its no-match state; a policy guard emits no guard state', () => {
    const compiled = compileWorkflow(
      spec({
        steps: [auto('a'), auto('b', { action: { operation: GET }, guard: { type: 'policy', value: 'p' } })],
        transitions: [{ from: 'a', to: 'b', condition: 'false' }],
      }),
      { functions: stepFunctionsByOperation() },
    );
    expect(compiled.definition.States.a).toMatchObject({ Next: 'a.noMatch' });
    expect(compiled.definition.States['b.guard']).toBeUndefined();
  });
});
