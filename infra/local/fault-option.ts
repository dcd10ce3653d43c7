import type { FaultRule, SandboxFault } from './powens-sandbox';

/** Which Powens calls a `--fault` target hits (paths below /2.0, sandbox glob syntax). */
const TARGETS: Record<string, { method?: string; path?: string }> = {
  sync: { method: 'PUT', path: '/users/*/connections/*' },
  connections: { method: 'GET', path: '/users/*/connections' },
  accounts: { method: 'GET', path: '/users/*/accounts' },
  any: {},
};

/**
 * Parses `--fault <target>:<kind>[x<times>]`, e.g. `sync:503x2`, `accounts:429@3`, `sync:timeout`.
 * Throws an error naming the option, the value and the accepted forms.
 */
export function parseFaultOption(raw: string): FaultRule {
  const match = /^([a-z]+):(\d{3}|[a-z]+)(?:@(\d+))?(?:x(\d+))?$/.exec(raw.trim());
  const target = match ? TARGETS[match[1] ?? ''] : undefined;
  if (!match || !target) {
    throw new Error(
      `--fault ${JSON.stringify(raw)} is not <target>:<kind>[x<times>] with target ${Object.keys(TARGETS).join('|')} ` +
        `and kind 500|502|503|504|429[@seconds]|timeout|reset|malformed (e.g. sync:503x2).`,
    );
  }
  const [, , kind = '', retryAfter, times] = match;
  let fault: SandboxFault;
  if (kind === '429') fault = { kind: 'rateLimited', retryAfter: Number(retryAfter ?? 1) };
  else if (/^5\d\d$/.test(kind)) fault = { kind: 'status', status: Number(kind) };
  else if (kind === 'timeout') fault = { kind: 'hang' };
  else if (kind === 'reset') fault = { kind: 'reset' };
  else if (kind === 'malformed') fault = { kind: 'malformed' };
  else
    throw new Error(
      `--fault ${JSON.stringify(raw)}: unknown kind ${JSON.stringify(kind)} (500|502|503|504|429|timeout|reset|malformed).`,
    );
  return { ...target, times: times === undefined ? 1 : Number(times), fault };
}
