/**
 * A direct, string-based re-statement of ContractSpec's evaluateExpression (docs/contractspec-semantics.md §1.4),
 * written independently of infra/compiler/expression.ts so the two can be checked against each other.
 */
export interface RefContext {
  data: unknown;
  input?: unknown;
  output?: unknown;
}

function split(expr: string, op: string): string[] {
  const parts: string[] = [];
  let buf = '';
  let quote: string | null = null;
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if ((c === "'" || c === '"') && (quote === null || quote === c)) {
      quote = quote === null ? c : null;
      buf += c;
      i += 1;
    } else if (quote === null && expr.substr(i, op.length) === op) {
      parts.push(buf.trim());
      buf = '';
      i += op.length;
    } else {
      buf += c;
      i += 1;
    }
  }
  if (buf.trim()) parts.push(buf.trim());
  return parts;
}

function literal(text: string): unknown {
  const t = text.trim();
  const q = t[0];
  if ((q === '"' || q === "'") && t.endsWith(q)) return t.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(t)) return parseFloat(t);
  const lower = t.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (lower === 'undefined') return undefined;
  return t;
}

function lookup(root: unknown, path: string): unknown {
  let cur = root;
  for (const key of path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((k) => k.length > 0)) {
    if (cur === null || cur === undefined) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function single(expr: string, ctx: RefContext): boolean {
  const e = expr.trim();
  if (!e) return true;
  if (e[0] === '!') return !single(e.slice(1), ctx);
  const cmp = /^(data|input|output)\.([A-Za-z0-9_.[\]]+)\s*(===|==|!==|!=|>=|<=|>|<)\s*(.+)$/.exec(e);
  if (cmp) {
    const left = lookup(ctx[cmp[1] as keyof RefContext], cmp[2] as string);
    const right = literal(cmp[4] as string);
    switch (cmp[3]) {
      case '===':
      case '==':
        return left === right;
      case '!==':
      case '!=':
        return left !== right;
      case '>':
        return Number(left) > Number(right);
      case '>=':
        return Number(left) >= Number(right);
      case '<':
        return Number(left) < Number(right);
      default:
        return Number(left) <= Number(right);
    }
  }
  const path = /^(data|input|output)\.([A-Za-z0-9_.[\]]+)$/.exec(e);
  if (path) return Boolean(lookup(ctx[path[1] as keyof RefContext], path[2] as string));
  return Boolean(literal(e));
}

export function referenceEvaluate(expr: string | undefined, ctx: RefContext): boolean {
  if (expr === undefined || expr.trim() === '') return true;
  const t = expr.trim();
  const ors = split(t, '||');
  if (ors.length > 1) return ors.some((p) => referenceEvaluate(p, ctx));
  const ands = split(t, '&&');
  if (ands.length > 1) return ands.every((p) => referenceEvaluate(p, ctx));
  return single(t, ctx);
}
