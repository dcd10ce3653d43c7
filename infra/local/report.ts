import type { ProgressEvent } from './execute';

/** Human-readable progress lines for `npm start`; one line per event so CI logs stay greppable. */
export function formatProgress(event: ProgressEvent): string | undefined {
  switch (event.type) {
    case 'execution-started':
      return `▶ execution ${event.executionName} started`;
    case 'state-entered':
      return `→ ${event.state} (attempt ${event.attempt})`;
    case 'state-succeeded':
      return `  ✓ ${event.state} succeeded on attempt ${event.attempt}`;
    case 'state-failed':
      return `  ✗ ${event.state} failed: ${event.error} ${describeCause(event.cause)}`;
    case 'retry-scheduled': {
      const scaled =
        event.scaledWaitMs === event.waitSeconds * 1000 ? '' : ` (time-scaled to ${Math.round(event.scaledWaitMs)} ms)`;
      return `  ↻ retry ${event.retry}/${event.maxRetries} of ${event.state} in ${event.waitSeconds} s${scaled}`;
    }
    case 'execution-succeeded':
      return '■ execution succeeded';
    case 'execution-failed':
      return `■ execution failed: ${event.error} ${describeCause(event.cause)}`;
  }
}

/** Lambda causes are `{"errorType","errorMessage"}` JSON; show the message only. */
function describeCause(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return `— ${parsed.errorMessage}`;
  } catch {
    // not JSON: print as is
  }
  return cause ? `— ${cause}` : '';
}

export function formatAmount(value: number | undefined): string {
  return value === undefined
    ? ''
    : value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
