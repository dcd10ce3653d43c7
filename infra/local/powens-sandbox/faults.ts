/**
 * Fault injection for the Powens sandbox: "the next N requests matching METHOD + path answer like this". Rules are
 * plain JSON (string path patterns) so `npm start` can script them over HTTP at /__sandbox/faults; in-process
 * callers may also pass a RegExp.
 */

export type SandboxFault =
  /** Any HTTP error status (500, 502, 503, 504, 403...) with a ServiceError body. */
  | { kind: 'status'; status: number; code?: string; description?: string; retryAfter?: string | number }
  /** 429 + Retry-After (seconds or an HTTP-date string) + ServiceError `tooManySync`-style body. */
  | { kind: 'rateLimited'; retryAfter?: string | number }
  /** Never answer; the socket is destroyed when the sandbox closes. */
  | { kind: 'hang' }
  /** Destroy the socket without an HTTP answer (the client sees a connection reset). */
  | { kind: 'reset' }
  /** 2xx whose body is not valid JSON (default: a truncated JSON document). */
  | { kind: 'malformed'; status?: number; body?: string };

export interface FaultRule {
  /** HTTP method to match (case-insensitive); any when absent. */
  method?: string;
  /**
   * Path below `/2.0`, query ignored, e.g. `/users/me/connections/2001`. In a string, `*` matches one segment and
   * `**` any number of segments (`/users/*\/connections/**`). Any path when absent.
   */
  path?: string | RegExp;
  /**
   * Only requests authenticated as this Powens user (bearer token of that user): faults one user of many, since the
   * user-scoped routes are all `/users/me/...`. Any caller when absent.
   */
  userId?: number;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  fault: SandboxFault;
}

export interface ActiveFault {
  id: string;
  method: string | null;
  path: string | null;
  userId?: number;
  remaining: number;
  fault: SandboxFault;
}

interface StoredRule {
  id: string;
  method: string | null;
  userId: number | null;
  pathLabel: string | null;
  matcher: RegExp | null;
  remaining: number;
  fault: SandboxFault;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .split('/')
    .map((segment) => {
      if (segment === '**') return '.*';
      return segment.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
    })
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

const FAULT_KINDS = new Set(['status', 'rateLimited', 'hang', 'reset', 'malformed']);

/** Validates an untrusted rule (from the HTTP control API); throws a message naming the bad field. */
export function parseFaultRule(input: unknown): FaultRule {
  if (typeof input !== 'object' || input === null) throw new Error('fault rule must be a JSON object');
  const rule = input as Record<string, unknown>;
  const fault = rule.fault as Record<string, unknown> | undefined;
  if (typeof fault !== 'object' || fault === null || typeof fault.kind !== 'string' || !FAULT_KINDS.has(fault.kind)) {
    throw new Error(`fault.kind must be one of ${[...FAULT_KINDS].join(', ')}; got ${JSON.stringify(fault?.kind)}`);
  }
  if (fault.kind === 'status' && (typeof fault.status !== 'number' || fault.status < 400 || fault.status > 599)) {
    throw new Error(`fault.status must be an HTTP error status 400-599; got ${JSON.stringify(fault.status)}`);
  }
  if (rule.method !== undefined && typeof rule.method !== 'string') throw new Error('method must be a string');
  if (rule.path !== undefined && typeof rule.path !== 'string') throw new Error('path must be a string pattern');
  if (rule.userId !== undefined && !Number.isSafeInteger(rule.userId)) throw new Error('userId must be an integer');
  if (rule.times !== undefined && (typeof rule.times !== 'number' || !Number.isInteger(rule.times) || rule.times < 1)) {
    throw new Error(`times must be a positive integer; got ${JSON.stringify(rule.times)}`);
  }
  return rule as unknown as FaultRule;
}

export class FaultRegistry {
  private rules: StoredRule[] = [];
  private nextId = 1;

  /** Arms a fault; returns its id (for remove). Rules are checked in insertion order. */
  add(rule: FaultRule): string {
    const times = rule.times ?? 1;
    if (!Number.isInteger(times) || times < 1)
      throw new Error(`FaultRule.times must be a positive integer, got ${times}`);
    const id = `fault-${this.nextId++}`;
    const matcher = rule.path === undefined ? null : rule.path instanceof RegExp ? rule.path : globToRegExp(rule.path);
    this.rules.push({
      id,
      method: rule.method?.toUpperCase() ?? null,
      userId: rule.userId ?? null,
      pathLabel: rule.path === undefined ? null : String(rule.path),
      matcher,
      remaining: times,
      fault: rule.fault,
    });
    return id;
  }

  /** Shorthand: the next `times` METHOD path requests get `fault`. */
  failNext(method: string, path: string | RegExp, fault: SandboxFault, times = 1): string {
    return this.add({ method, path, fault, times });
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  list(): ActiveFault[] {
    return this.rules.map((r) => ({
      id: r.id,
      method: r.method,
      path: r.pathLabel,
      ...(r.userId === null ? {} : { userId: r.userId }),
      remaining: r.remaining,
      fault: r.fault,
    }));
  }

  /** Consumes one use of the first matching rule. `userId`: the user the request's bearer token belongs to, if any. */
  take(method: string, path: string, userId?: number): SandboxFault | undefined {
    const rule = this.rules.find(
      (r) =>
        (r.method === null || r.method === method.toUpperCase()) &&
        (r.matcher === null || r.matcher.test(path)) &&
        (r.userId === null || r.userId === userId),
    );
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.fault;
  }
}
