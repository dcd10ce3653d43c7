/**
 * PSD2 (RTS 2018/389 Art. 36(5)(b)): without the account holder present, account data may be accessed at most four
 * times per 24 hours. Every scheduled run is unattended, so the stack refuses a schedule that could run more often.
 * Pure: no CDK imports, unit tested on its own.
 */

export const PSD2_MAX_UNATTENDED_RUNS_PER_DAY = 4;

export class ScheduleExpressionError extends Error {
  override readonly name = 'ScheduleExpressionError';
}

/** Number of values a cron field (minutes or hours) can take: `*`, `a`, `a,b`, `a-b`, `a/n`, `a-b/n`, `* /n`. */
function countFieldValues(field: string, min: number, max: number, expression: string): number {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const match = /^(\*|\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!match) {
      throw new ScheduleExpressionError(
        `Cannot count runs of "${expression}": field "${field}" uses syntax beyond numbers, lists, ranges and steps. ` +
          'Write minutes and hours as e.g. 0 and 6,18.',
      );
    }
    const [, startRaw = '*', endRaw, stepRaw] = match;
    const start = startRaw === '*' ? min : Number(startRaw);
    const end = endRaw !== undefined ? Number(endRaw) : startRaw === '*' || stepRaw !== undefined ? max : start;
    const step = stepRaw === undefined ? 1 : Number(stepRaw);
    if (start < min || end > max || start > end || step < 1) {
      throw new ScheduleExpressionError(`Invalid cron field "${field}" in "${expression}" (allowed ${min}-${max}).`);
    }
    for (let v = start; v <= end; v += step) values.add(v);
  }
  return values.size;
}

/**
 * The most runs the expression can make in any 24 h window. `at(...)`: 1. `rate(n unit)`: exact. `cron(...)`:
 * |minutes| × |hours| — the day-of-month/week/year fields only remove days, and a pattern that repeats daily puts
 * at most that many runs in any 24 h window.
 */
export function maxRunsPerDay(expression: string): number {
  const trimmed = expression.trim();
  if (/^at\(.+\)$/.test(trimmed)) return 1;
  const rate = /^rate\((\d+)\s+(minutes?|hours?|days?)\)$/.exec(trimmed);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2] ?? '';
    if (n < 1) throw new ScheduleExpressionError(`rate() needs a positive value: "${expression}".`);
    const perDay = unit.startsWith('minute') ? 1440 / n : unit.startsWith('hour') ? 24 / n : 1 / n;
    return Math.ceil(perDay);
  }
  const cron = /^cron\((.+)\)$/.exec(trimmed);
  if (cron?.[1]) {
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length !== 6) {
      throw new ScheduleExpressionError(
        `"${expression}" must have 6 fields (minutes hours day-of-month month day-of-week year), e.g. cron(0 6,18 * * ? *).`,
      );
    }
    return countFieldValues(fields[0] ?? '', 0, 59, expression) * countFieldValues(fields[1] ?? '', 0, 23, expression);
  }
  throw new ScheduleExpressionError(
    `Unsupported schedule expression "${expression}": use cron(...), rate(...) or at(...) (EventBridge Scheduler syntax).`,
  );
}

export function assertPsd2Schedule(expression: string, limit: number = PSD2_MAX_UNATTENDED_RUNS_PER_DAY): void {
  const runs = maxRunsPerDay(expression);
  if (runs > limit) {
    throw new ScheduleExpressionError(
      `refreshSchedule "${expression}" can run ${runs} times a day; PSD2 allows at most ${limit} unattended bank ` +
        'accesses per 24 h (and Powens runs its own daily sync). Use e.g. cron(0 6,18 * * ? *).',
    );
  }
}
