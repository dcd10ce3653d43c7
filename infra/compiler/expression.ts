/**
 * ContractSpec condition/guard expressions (docs/contractspec-semantics.md §1.4): parsed into an AST, evaluated
 * with ContractSpec's semantics (for the fidelity report and tests), and compiled to JSONPath ASL Choice rules.
 *
 * Grammar, as ContractSpec's evaluator applies it (there is no real grammar, only string splitting):
 *   expr   := empty                     → true
 *           | or-part ('||' or-part)+    (split first, quotes respected)
 *           | and-part ('&&' and-part)+  (then &&; no parentheses, so && binds tighter)
 *           | term
 *   term   := '!' term | comparison | truthiness | literal-fallback
 *   comparison := (data|input|output) '.' path op rhs   op ∈ === == !== != >= <= > <   (== is ===, != is !==)
 *   truthiness := (data|input|output) '.' path           → Boolean(value)
 *   rhs is ALWAYS a literal: 'x' "x" → string, -?\d+(\.\d+)? → number, true/false/null/undefined (any case),
 *   anything else → the raw text as a string (so `data.a === data.b` compares with the string "data.b").
 *   literal-fallback: the whole term parsed as a literal, then Boolean() → a constant.
 */
import type { ChoiceRuleBody } from './asl';

export type ConditionRoot = 'data' | 'input' | 'output';
export type ConditionLiteral = string | number | boolean | null | undefined;
export type StrictOperator = '===' | '!==';
export type RelationalOperator = '>' | '>=' | '<' | '<=';
export type ConditionOperator = StrictOperator | RelationalOperator;
/** A property name, or an array index (`[n]` and digit-only segments: ContractSpec treats both as `.n`). */
export type PathSegment = string | number;

export type ConditionNode =
  | { kind: 'constant'; value: boolean; reason: 'empty' | 'literal'; source: string }
  | { kind: 'or'; terms: ConditionNode[] }
  | { kind: 'and'; terms: ConditionNode[] }
  | { kind: 'not'; operand: ConditionNode }
  | {
      kind: 'compare';
      root: ConditionRoot;
      path: PathSegment[];
      operator: ConditionOperator;
      /** As written (`==`, `!=` are kept for messages). */
      rawOperator: string;
      right: ConditionLiteral;
      rightText: string;
      /** The right-hand side was not a recognised literal and became a raw string. */
      rightIsRawString: boolean;
      source: string;
    }
  | { kind: 'truthy'; root: ConditionRoot; path: PathSegment[]; source: string };

export type OptionalChainingMode = 'normalize' | 'contractspec';

export interface ConditionIssue {
  level: 'error' | 'warning';
  code:
    | 'CONDITION_CONSTANT'
    | 'CONDITION_OPTIONAL_CHAINING'
    | 'CONDITION_NUMBER_COERCION'
    | 'CONDITION_RAW_STRING_RHS'
    | 'CONDITION_PATH_UNSUPPORTED';
  message: string;
}

export interface ParsedCondition {
  source: string;
  ast: ConditionNode;
  issues: ConditionIssue[];
}

export interface ConditionContext {
  data: unknown;
  input?: unknown;
  output?: unknown;
}

const COMPARISON = /^(data|input|output)\.([A-Za-z0-9_.[\]]+)\s*(===|==|!==|!=|>=|<=|>|<)\s*(.+)$/;
const TRUTHY = /^(data|input|output)\.([A-Za-z0-9_.[\]]+)$/;

/** Where `token` starts outside single/double quotes (a quote toggles its mode wherever it appears), left to right. */
function tokenIndexesOutsideQuotes(text: string, token: string): number[] {
  const found: number[] = [];
  let single = false;
  let double = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text.charAt(i);
    if (ch === "'" && !double) single = !single;
    else if (ch === '"' && !single) double = !double;
    else if (!single && !double && text.startsWith(token, i)) {
      found.push(i);
      i += token.length - 1;
    }
  }
  return found;
}

/** Splits on `operator` outside quotes. */
function splitOutsideQuotes(text: string, operator: '||' | '&&'): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const i of tokenIndexesOutsideQuotes(text, operator)) {
    parts.push(text.slice(start, i).trim());
    start = i + operator.length;
  }
  // A trailing empty part is dropped, inner empty parts are kept (they evaluate to true): ContractSpec does the same.
  const last = text.slice(start).trim();
  if (last !== '') parts.push(last);
  return parts;
}

/** ContractSpec's literal parser (§1.4). */
export function parseLiteral(text: string): { value: ConditionLiteral; raw: boolean } {
  const t = text.trim();
  if (t.length >= 1 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) {
    return { value: t.slice(1, -1), raw: false };
  }
  if (/^-?\d+(\.\d+)?$/.test(t)) return { value: Number(t), raw: false };
  if (/^true$/i.test(t)) return { value: true, raw: false };
  if (/^false$/i.test(t)) return { value: false, raw: false };
  if (/^null$/i.test(t)) return { value: null, raw: false };
  if (/^undefined$/i.test(t)) return { value: undefined, raw: false };
  return { value: t, raw: true };
}

/** `a[0].b` and `a.0.b` are the same path in ContractSpec; brackets around anything but digits are not paths. */
function parsePath(text: string): PathSegment[] | undefined {
  const normalised = text.replace(/\[(\d+)\]/g, '.$1');
  if (/[[\]]/.test(normalised)) return undefined;
  return normalised
    .split('.')
    .filter((segment) => segment !== '')
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

/** Replaces `?.` by `.` outside quotes (and `?.[` by `[`). */
function stripOptionalChaining(text: string): string {
  let out = '';
  let start = 0;
  for (const i of tokenIndexesOutsideQuotes(text, '?.')) {
    out += text.slice(start, i) + (text.charAt(i + 2) === '[' ? '' : '.');
    start = i + 2;
  }
  return out + text.slice(start);
}

function hasOptionalChainingOutsideQuotes(text: string): boolean {
  return stripOptionalChaining(text) !== text;
}

export interface ParseOptions {
  optionalChaining?: OptionalChainingMode;
}

export function parseCondition(source: string | undefined, options: ParseOptions = {}): ParsedCondition {
  const mode = options.optionalChaining ?? 'normalize';
  const issues: ConditionIssue[] = [];
  const text = source ?? '';
  const ast = parseExpression(text, mode, issues);
  return { source: text, ast, issues };
}

function parseExpression(text: string, mode: OptionalChainingMode, issues: ConditionIssue[]): ConditionNode {
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'constant', value: true, reason: 'empty', source: text };
  const orParts = splitOutsideQuotes(trimmed, '||');
  if (orParts.length > 1) return { kind: 'or', terms: orParts.map((p) => parseExpression(p, mode, issues)) };
  const andParts = splitOutsideQuotes(trimmed, '&&');
  if (andParts.length > 1) return { kind: 'and', terms: andParts.map((p) => parseExpression(p, mode, issues)) };
  return parseTerm(trimmed, mode, issues);
}

function parseTerm(text: string, mode: OptionalChainingMode, issues: ConditionIssue[]): ConditionNode {
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'constant', value: true, reason: 'empty', source: text };
  if (trimmed.startsWith('!')) return { kind: 'not', operand: parseTerm(trimmed.slice(1), mode, issues) };

  let term = trimmed;
  if (hasOptionalChainingOutsideQuotes(trimmed)) {
    if (mode === 'normalize') {
      term = stripOptionalChaining(trimmed);
      issues.push({
        level: 'warning',
        code: 'CONDITION_OPTIONAL_CHAINING',
        message:
          `\`${trimmed}\` uses \`?.\`, which ContractSpec's evaluator does not parse: ContractSpec evaluates this term as ` +
          `ALWAYS TRUE. Compiled with the intended meaning \`${term}\` (optionalChaining: 'normalize'). ` +
          `Write \`${term}\` in the spec to make both engines agree, or compile with optionalChaining: 'contractspec'.`,
      });
    } else {
      issues.push({
        level: 'warning',
        code: 'CONDITION_OPTIONAL_CHAINING',
        message:
          `\`${trimmed}\` uses \`?.\`, which ContractSpec does not parse: it is a non-empty literal, hence ALWAYS TRUE. ` +
          `Compiled as always true to match ContractSpec (optionalChaining: 'contractspec'). ` +
          `Write \`${stripOptionalChaining(trimmed)}\` if a real test was intended.`,
      });
    }
  }

  const comparison = COMPARISON.exec(term);
  if (comparison) {
    const [, root, pathText, rawOperator, rawRight] = comparison as unknown as [
      string,
      ConditionRoot,
      string,
      string,
      string,
    ];
    const path = parsePath(pathText);
    if (!path) return unsupportedPath(term, pathText, issues);
    const operator: ConditionOperator =
      rawOperator === '==' ? '===' : rawOperator === '!=' ? '!==' : (rawOperator as ConditionOperator);
    const literal = parseLiteral(rawRight);
    if (literal.raw) {
      issues.push({
        level: 'warning',
        code: 'CONDITION_RAW_STRING_RHS',
        message:
          `In \`${term}\` the right-hand side \`${rawRight.trim()}\` is not a literal, so ContractSpec compares with the ` +
          `STRING "${String(literal.value)}" (it has no path-to-path comparison). Compiled the same way; quote it ` +
          `('${String(literal.value)}') to make that explicit, or restructure the condition.`,
      });
    }
    if (operator !== '===' && operator !== '!==') {
      if (Number.isNaN(Number(literal.value))) {
        issues.push({
          level: 'warning',
          code: 'CONDITION_CONSTANT',
          message:
            `\`${term}\`: Number(${JSON.stringify(rawRight.trim())}) is NaN, so ContractSpec's relational test is ALWAYS FALSE. ` +
            `Compiled as a constant; compare with a number literal.`,
        });
      } else {
        issues.push({
          level: 'warning',
          code: 'CONDITION_NUMBER_COERCION',
          message:
            `\`${term}\`: ContractSpec compares Number(left) ${operator} ${Number(literal.value)}, coercing strings, booleans ` +
            `and null ("5" → 5, true → 1, null → 0); ASL tests only JSON numbers (IsNumeric) and is false otherwise. ` +
            `Equal for numeric values; make sure the field is a number.`,
        });
      }
    }
    return {
      kind: 'compare',
      root,
      path,
      operator,
      rawOperator,
      right: literal.value,
      rightText: rawRight.trim(),
      rightIsRawString: literal.raw,
      source: term,
    };
  }
  const truthy = TRUTHY.exec(term);
  if (truthy) {
    const [, root, pathText] = truthy as unknown as [string, ConditionRoot, string];
    const path = parsePath(pathText);
    if (!path) return unsupportedPath(term, pathText, issues);
    return { kind: 'truthy', root, path, source: term };
  }
  const literal = parseLiteral(term);
  const value = Boolean(literal.value);
  // The `?.` warning above already explains this constant in 'contractspec' mode.
  if (!(mode === 'contractspec' && hasOptionalChainingOutsideQuotes(trimmed))) {
    issues.push({
      level: 'warning',
      code: 'CONDITION_CONSTANT',
      message:
        `\`${term}\` is not a comparison (data|input|output).<path> <op> <literal> nor a path, so ContractSpec reads it ` +
        `as a literal: it is ALWAYS ${value ? 'TRUE' : 'FALSE'}. Compiled as a constant; fix the expression if a test was intended.`,
    });
  }
  return { kind: 'constant', value, reason: 'literal', source: term };
}

function unsupportedPath(term: string, pathText: string, issues: ConditionIssue[]): ConditionNode {
  issues.push({
    level: 'error',
    code: 'CONDITION_PATH_UNSUPPORTED',
    message:
      `\`${term}\`: path \`${pathText}\` uses brackets around something other than a number. ContractSpec would look up ` +
      `a property literally named like that; ASL cannot. Use dotted names and [n] indices only.`,
  });
  return { kind: 'constant', value: false, reason: 'literal', source: term };
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation with ContractSpec semantics (JS property access, strict equality, Number() coercion).

function resolve(source: unknown, path: readonly PathSegment[]): unknown {
  let current: unknown = source;
  for (const segment of path) {
    if (current === null || current === undefined) return undefined;
    current = (current as Record<string, unknown>)[String(segment)];
  }
  return current;
}

export function evaluateCondition(node: ConditionNode, ctx: ConditionContext): boolean {
  switch (node.kind) {
    case 'constant':
      return node.value;
    case 'or':
      return node.terms.some((t) => evaluateCondition(t, ctx));
    case 'and':
      return node.terms.every((t) => evaluateCondition(t, ctx));
    case 'not':
      return !evaluateCondition(node.operand, ctx);
    case 'truthy':
      return Boolean(resolve(ctx[node.root], node.path));
    case 'compare': {
      const left = resolve(ctx[node.root], node.path);
      switch (node.operator) {
        case '===':
          return left === node.right;
        case '!==':
          return left !== node.right;
        case '>':
          return Number(left) > Number(node.right);
        case '>=':
          return Number(left) >= Number(node.right);
        case '<':
          return Number(left) < Number(node.right);
        case '<=':
          return Number(left) <= Number(node.right);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Compilation to ASL Choice rules.

/**
 * Where each expression root lives. A string is one JSONPath prefix (e.g. `$$.Execution.Input`, `$.steps.sync.output`).
 * An array is a merged object given as its layers, most recent first (ContractSpec's `data`: the execution input
 * merged with completed outputs, last writer wins, top-level keys only): a path reads the first layer that has its
 * top-level key, so `data.a.b` never mixes `a` from one layer with `b` from another.
 */
export type ConditionScope = Partial<Record<ConditionRoot, string | readonly string[]>>;

export type CompiledCondition = { kind: 'constant'; value: boolean } | { kind: 'rule'; rule: ChoiceRuleBody };

const SIMPLE_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Appends one segment to a JSONPath: `.key`, `[n]`, or `['odd key']`. */
export function jsonPathChild(base: string, segment: PathSegment): string {
  if (typeof segment === 'number') return `${base}[${segment}]`;
  if (SIMPLE_KEY.test(segment)) return `${base}.${segment}`;
  return `${base}['${segment.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

export function jsonPathFor(prefix: string, path: readonly PathSegment[]): string {
  return path.reduce<string>((acc, seg) => jsonPathChild(acc, seg), prefix);
}

const and = (...rules: ChoiceRuleBody[]): ChoiceRuleBody => ({ And: rules });
const not = (rule: ChoiceRuleBody): ChoiceRuleBody => ({ Not: rule });

function strictEquals(variable: string, value: ConditionLiteral): ChoiceRuleBody {
  // Choice rules raise States.Runtime on a missing path, so every test is guarded by IsPresent; the type guard makes
  // `"1" === 1` false as in JS. IsPresent:false is never emitted (aws-local-stepfunctions evaluates it as false).
  const present: ChoiceRuleBody = { Variable: variable, IsPresent: true };
  if (value === undefined) return not(present);
  if (value === null) return and(present, { Variable: variable, IsNull: true });
  if (typeof value === 'string')
    return and(present, { Variable: variable, IsString: true }, { Variable: variable, StringEquals: value });
  if (typeof value === 'number')
    return and(present, { Variable: variable, IsNumeric: true }, { Variable: variable, NumericEquals: value });
  return and(present, { Variable: variable, IsBoolean: true }, { Variable: variable, BooleanEquals: value });
}

/** JS truthiness of a JSON value: present, and not null / false / 0 / "". */
function truthy(variable: string): ChoiceRuleBody {
  return and(
    { Variable: variable, IsPresent: true },
    not({ Variable: variable, IsNull: true }),
    not(and({ Variable: variable, IsBoolean: true }, { Variable: variable, BooleanEquals: false })),
    not(and({ Variable: variable, IsNumeric: true }, { Variable: variable, NumericEquals: 0 })),
    not(and({ Variable: variable, IsString: true }, { Variable: variable, StringEquals: '' })),
  );
}

const NUMERIC_OPERATOR = {
  '>': 'NumericGreaterThan',
  '>=': 'NumericGreaterThanEquals',
  '<': 'NumericLessThan',
  '<=': 'NumericLessThanEquals',
} as const;

export class UnscopedRootError extends Error {
  override readonly name = 'UnscopedRootError';
  constructor(readonly root: ConditionRoot) {
    super(`Expression root "${root}" is not available here`);
  }
}

export function compileCondition(node: ConditionNode, scope: ConditionScope): CompiledCondition {
  switch (node.kind) {
    case 'constant':
      return { kind: 'constant', value: node.value };
    case 'not': {
      const inner = compileCondition(node.operand, scope);
      return inner.kind === 'constant'
        ? { kind: 'constant', value: !inner.value }
        : { kind: 'rule', rule: not(inner.rule) };
    }
    case 'and':
    case 'or': {
      const absorbing = node.kind === 'or'; // true absorbs an Or, false absorbs an And
      const rules: ChoiceRuleBody[] = [];
      for (const term of node.terms) {
        const compiled = compileCondition(term, scope);
        if (compiled.kind === 'constant') {
          if (compiled.value === absorbing) return { kind: 'constant', value: absorbing };
          continue; // neutral element
        }
        rules.push(compiled.rule);
      }
      if (rules.length === 0) return { kind: 'constant', value: !absorbing };
      if (rules.length === 1) return { kind: 'rule', rule: rules[0] as ChoiceRuleBody };
      return { kind: 'rule', rule: node.kind === 'or' ? { Or: rules } : { And: rules } };
    }
    case 'truthy':
      return { kind: 'rule', rule: leafRule(node.root, node.path, scope, truthy) };
    case 'compare': {
      if (node.operator === '===')
        return { kind: 'rule', rule: leafRule(node.root, node.path, scope, (v) => strictEquals(v, node.right)) };
      if (node.operator === '!==')
        return { kind: 'rule', rule: not(leafRule(node.root, node.path, scope, (v) => strictEquals(v, node.right))) };
      const bound = Number(node.right);
      // NaN compares false with everything, whatever the left side is.
      if (Number.isNaN(bound)) return { kind: 'constant', value: false };
      const operator = NUMERIC_OPERATOR[node.operator];
      return {
        kind: 'rule',
        rule: leafRule(node.root, node.path, scope, (variable) =>
          and(
            { Variable: variable, IsPresent: true },
            { Variable: variable, IsNumeric: true },
            { Variable: variable, [operator]: bound },
          ),
        ),
      };
    }
  }
}

/**
 * The rule testing `root.path` with `test`. For a layered root, a cascade that picks the value exactly one layer
 * holds (the most recent one with the path's top-level key): Or[And[has key in L1, test(L1)], And[not in L1, …base]].
 * The branches exclude each other, so `Not` of the cascade is the negated test of the chosen value.
 */
function leafRule(
  root: ConditionRoot,
  path: readonly PathSegment[],
  scope: ConditionScope,
  test: (variable: string) => ChoiceRuleBody,
): ChoiceRuleBody {
  const prefix = scope[root];
  if (prefix === undefined) throw new UnscopedRootError(root);
  const layers = typeof prefix === 'string' ? [prefix] : prefix;
  const cascade = (index: number): ChoiceRuleBody => {
    const layer = layers[index] as string;
    if (index === layers.length - 1 || path.length === 0) return test(jsonPathFor(layer, path));
    const hasKey: ChoiceRuleBody = { Variable: jsonPathFor(layer, path.slice(0, 1)), IsPresent: true };
    return { Or: [and(hasKey, test(jsonPathFor(layer, path))), and(not(hasKey), cascade(index + 1))] };
  };
  if (layers.length === 0) throw new UnscopedRootError(root);
  return cascade(0);
}

/** Roots an expression reads (for the "guards cannot read output" rule). */
export function conditionRoots(node: ConditionNode): Set<ConditionRoot> {
  const roots = new Set<ConditionRoot>();
  const visit = (n: ConditionNode): void => {
    if (n.kind === 'compare' || n.kind === 'truthy') roots.add(n.root);
    else if (n.kind === 'not') visit(n.operand);
    else if (n.kind === 'and' || n.kind === 'or') n.terms.forEach(visit);
  };
  visit(node);
  return roots;
}
