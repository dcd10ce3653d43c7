/**
 * Condition semantics, three ways: the expected value (from §1.4), an independent reference evaluator, the AST
 * evaluator, and the compiled ASL Choice rule executed by aws-local-stepfunctions (one machine for the whole table).
 */
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import type { ChoiceRule, State, StateMachineDefinition } from '../../../infra/compiler/asl';
import {
  compileCondition,
  evaluateCondition,
  parseCondition,
  type ConditionScope,
} from '../../../infra/compiler/expression';
import { aslDiagnostics } from '../../support/asl-run';
import { referenceEvaluate, type RefContext } from './reference-evaluator';

interface Case {
  expr: string;
  ctx: RefContext;
  expected: boolean;
  /** ContractSpec coerces with Number(); ASL only compares JSON numbers. The ASL result is then !expected. */
  coercion?: true;
}

const d = (data: unknown): RefContext => ({ data });

const CASES: Case[] = [
  { expr: '', ctx: d({}), expected: true },
  { expr: '   ', ctx: d({}), expected: true },
  { expr: 'data.approved === true', ctx: d({ approved: true }), expected: true },
  { expr: 'data.approved === true', ctx: d({ approved: 'true' }), expected: false },
  { expr: 'data.approved === true', ctx: d({}), expected: false },
  { expr: 'data.approved == TRUE', ctx: d({ approved: true }), expected: true },
  { expr: "data.status === 'open'", ctx: d({ status: 'open' }), expected: true },
  { expr: 'data.status === "open"', ctx: d({ status: 'closed' }), expected: false },
  { expr: 'data.count === 0', ctx: d({ count: 0 }), expected: true },
  { expr: 'data.count === 0', ctx: d({ count: '0' }), expected: false },
  { expr: 'data.x === -1.5', ctx: d({ x: -1.5 }), expected: true },
  { expr: 'data.x === null', ctx: d({ x: null }), expected: true },
  { expr: 'data.x === null', ctx: d({}), expected: false },
  { expr: 'data.x === undefined', ctx: d({}), expected: true },
  { expr: 'data.x === undefined', ctx: d({ x: null }), expected: false },
  { expr: 'data.x !== undefined', ctx: d({ x: 1 }), expected: true },
  { expr: 'data.x != null', ctx: d({}), expected: true },
  { expr: 'data.x.y === 1', ctx: d({ x: 'str' }), expected: false },
  { expr: 'data.a === data.b', ctx: d({ a: 'data.b' }), expected: true },
  { expr: 'data.a === data.b', ctx: d({ a: 1, b: 1 }), expected: false },
  { expr: 'data.s === "', ctx: d({ s: '' }), expected: true },
  { expr: 'data.n > 3', ctx: d({ n: 5 }), expected: true },
  { expr: 'data.n > 3', ctx: d({ n: 2 }), expected: false },
  { expr: 'data.n > 3', ctx: d({}), expected: false },
  { expr: 'data.n > 3', ctx: d({ n: '5' }), expected: true, coercion: true },
  { expr: 'data.n > -1', ctx: d({ n: null }), expected: true, coercion: true },
  { expr: 'data.n < 3', ctx: d({ n: true }), expected: true, coercion: true },
  { expr: 'data.n >= 3', ctx: d({ n: 3 }), expected: true },
  { expr: 'data.n <= 2.5', ctx: d({ n: 2.5 }), expected: true },
  { expr: 'data.n > abc', ctx: d({ n: 5 }), expected: false },
  { expr: "data.n > '4'", ctx: d({ n: 5 }), expected: true },
  { expr: '!data.n > 3', ctx: d({ n: 5 }), expected: false },
  { expr: 'data.items[1].id === "b"', ctx: d({ items: [{ id: 'a' }, { id: 'b' }] }), expected: true },
  { expr: 'data.items.0.id === "a"', ctx: d({ items: [{ id: 'a' }] }), expected: true },
  { expr: 'data.flag', ctx: d({ flag: true }), expected: true },
  { expr: 'data.flag', ctx: d({ flag: false }), expected: false },
  { expr: 'data.flag', ctx: d({ flag: 0 }), expected: false },
  { expr: 'data.flag', ctx: d({ flag: 7 }), expected: true },
  { expr: 'data.flag', ctx: d({ flag: '' }), expected: false },
  { expr: 'data.flag', ctx: d({ flag: 'x' }), expected: true },
  { expr: 'data.flag', ctx: d({ flag: [] }), expected: true },
  { expr: 'data.flag', ctx: d({ flag: {} }), expected: true },
  { expr: 'data.flag', ctx: d({ flag: null }), expected: false },
  { expr: 'data.flag', ctx: d({}), expected: false },
  { expr: '!data.flag', ctx: d({}), expected: true },
  { expr: '!!data.flag', ctx: d({ flag: 1 }), expected: true },
  { expr: 'data.a && data.b || data.c', ctx: d({ a: 1, b: 0, c: 1 }), expected: true },
  { expr: 'data.a && data.b || data.c', ctx: d({ a: 1, b: 0 }), expected: false },
  { expr: 'data.a && data.b || data.c', ctx: d({ a: 1, b: 1 }), expected: true },
  { expr: "data.s === 'a || b'", ctx: d({ s: 'a || b' }), expected: true },
  { expr: "data.s === 'x && y' && data.t", ctx: d({ s: 'x && y', t: 1 }), expected: true },
  { expr: 'data.a ||', ctx: d({}), expected: true }, // not a comparison → non-empty literal → true
  { expr: 'data.a || || data.b', ctx: d({}), expected: true }, // the empty middle part is true
  { expr: 'true', ctx: d({}), expected: true },
  { expr: 'FALSE', ctx: d({}), expected: false },
  { expr: '0', ctx: d({}), expected: false },
  { expr: 'null', ctx: d({}), expected: false },
  { expr: 'hello world', ctx: d({}), expected: true },
  { expr: '!', ctx: d({}), expected: false },
  { expr: 'input.priority === "high"', ctx: { data: {}, input: { priority: 'high' } }, expected: true },
  { expr: 'output.count > 0', ctx: { data: {}, output: { count: 2 } }, expected: true },
  { expr: 'output.count > 0', ctx: { data: { count: 2 } }, expected: false },
];

const SCOPE = { data: '$.data', input: '$.input', output: '$.output' };

describe('parser + AST evaluator agree with §1.4 and with the reference evaluator', () => {
  it.each(CASES.map((c) => [c.expr, JSON.stringify(c.ctx), c] as const))('%s with %s', (_e, _c, c) => {
    expect(referenceEvaluate(c.expr, c.ctx)).toBe(c.expected);
    expect(evaluateCondition(parseCondition(c.expr).ast, c.ctx)).toBe(c.expected);
  });
});

/** One machine for the whole table: `$.case` picks the case, T / F report the compiled rule's verdict. */
function choiceMachine(scope: ConditionScope): { machine: StateMachine; definition: StateMachineDefinition } {
  const states: Record<string, State> = {
    // (a bare `false` Result is treated as absent by the local interpreter, hence the wrapper)
    T: { Type: 'Pass', Result: { value: true }, End: true },
    F: { Type: 'Pass', Result: { value: false }, End: true },
  };
  const dispatch: ChoiceRule[] = [];
  CASES.forEach((c, i) => {
    const compiled = compileCondition(parseCondition(c.expr).ast, scope);
    const name = `case${i}`;
    dispatch.push({ Variable: '$.case', NumericEquals: i, Next: name });
    states[name] =
      compiled.kind === 'constant'
        ? { Type: 'Pass', Next: compiled.value ? 'T' : 'F' }
        : { Type: 'Choice', Choices: [{ ...compiled.rule, Next: 'T' } as ChoiceRule], Default: 'F' };
  });
  states.dispatch = { Type: 'Choice', Choices: dispatch, Default: 'F' };
  const definition: StateMachineDefinition = { StartAt: 'dispatch', States: states };
  return { machine: new StateMachine(definition as unknown as LocalDefinition), definition };
}

describe('compiled Choice rules, executed by aws-local-stepfunctions', () => {
  let machine: StateMachine;
  let definition: StateMachineDefinition;

  beforeAll(() => {
    ({ machine, definition } = choiceMachine(SCOPE));
  });

  it('passes the AWS language service', async () => {
    expect(await aslDiagnostics(JSON.stringify(definition, null, 2))).toEqual([]);
  });

  it.each(CASES.map((c, i) => [c.expr, JSON.stringify(c.ctx), c, i] as const))('%s with %s', async (_e, _c, c, i) => {
    const result = (await machine.run({ case: i, ...c.ctx } as never).result) as { value: boolean };
    expect(result.value).toBe(c.coercion ? !c.expected : c.expected);
  });
});

describe('optional chaining (`?.`) and issue reporting', () => {
  const ctx = { data: {}, output: { syncedThreads: 5 } };
  const expr = 'output?.syncedThreads === 0';

  it('ContractSpec (and the reference) evaluates the PFO condition as always true', () => {
    expect(referenceEvaluate(expr, ctx)).toBe(true);
    const parsed = parseCondition(expr, { optionalChaining: 'contractspec' });
    expect(parsed.ast).toMatchObject({ kind: 'constant', value: true });
    expect(compileCondition(parsed.ast, SCOPE)).toEqual({ kind: 'constant', value: true });
    expect(parsed.issues.map((i) => i.code)).toEqual(['CONDITION_OPTIONAL_CHAINING']);
  });

  it("'normalize' reads it as `output.syncedThreads === 0` and warns that ContractSpec differs", () => {
    const parsed = parseCondition(expr);
    expect(evaluateCondition(parsed.ast, ctx)).toBe(false);
    expect(evaluateCondition(parsed.ast, { data: {}, output: { syncedThreads: 0 } })).toBe(true);
    expect(parsed.issues).toEqual([
      expect.objectContaining({
        level: 'warning',
        code: 'CONDITION_OPTIONAL_CHAINING',
        message: expect.stringContaining('ALWAYS TRUE'),
      }),
    ]);
  });

  it('does not rewrite `?.` inside quotes', () => {
    const parsed = parseCondition("data.s === 'a?.b'");
    expect(parsed.issues).toEqual([]);
    expect(evaluateCondition(parsed.ast, { data: { s: 'a?.b' } })).toBe(true);
  });

  it.each([
    ['hello world', 'CONDITION_CONSTANT'],
    ['data.n > 3', 'CONDITION_NUMBER_COERCION'],
    ['data.n > abc', 'CONDITION_CONSTANT'],
    ['data.a === data.b', 'CONDITION_RAW_STRING_RHS'],
    ['data.a[x] === 1', 'CONDITION_PATH_UNSUPPORTED'],
  ])('%s → %s', (source, code) => {
    expect(parseCondition(source).issues.map((i) => i.code)).toContain(code);
  });
});

/**
 * `data` given as layers (the compiled machine's `$.steps.<id>.output` slots over the execution input): the same
 * table, with each case's data split so that every top-level key lives in the newest layer that has it and older
 * layers hold decoys for it. A rule that mixed layers, or read an older one, would read a decoy.
 */
describe('layered data (last writer wins per top-level key), executed by aws-local-stepfunctions', () => {
  const LAYERED = { data: ['$.l1', '$.l2', '$.base'], input: '$.input', output: '$.output' } as const;
  const DECOY = 'decoy';
  const split = (data: unknown): Record<string, unknown> => {
    const l1: Record<string, unknown> = {};
    const l2: Record<string, unknown> = {};
    const base: Record<string, unknown> = {};
    Object.entries((data ?? {}) as Record<string, unknown>).forEach(([key, value], i) => {
      if (i % 2 === 0) {
        l1[key] = value;
        l2[key] = DECOY;
        base[key] = DECOY;
      } else {
        base[key] = value;
      }
    });
    return { l1, l2, base };
  };
  let machine: StateMachine;

  beforeAll(() => {
    ({ machine } = choiceMachine(LAYERED));
  });

  it.each(CASES.map((c, i) => [c.expr, JSON.stringify(c.ctx), c, i] as const))('%s with %s', async (_e, _c, c, i) => {
    const { data, ...rest } = c.ctx;
    const result = (await machine.run({ case: i, ...rest, ...split(data) } as never).result) as { value: boolean };
    expect(result.value).toBe(c.coercion ? !c.expected : c.expected);
  });
});
