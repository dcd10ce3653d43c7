import {
  assertPsd2Schedule,
  maxRunsPerDay,
  ScheduleExpressionError,
} from '../../../infra/constructs/schedule-expression';

describe('PSD2 schedule guard (at most 4 unattended runs per 24 h)', () => {
  it.each([
    ['cron(0 6,18 * * ? *)', 2],
    ['cron(30 6 ? * MON-FRI *)', 1],
    ['cron(0 0/6 * * ? *)', 4],
    ['cron(0 */6 * * ? *)', 4],
    ['cron(0,30 6-7 * * ? *)', 4],
    ['cron(0 * * * ? *)', 24],
    ['cron(*/15 6 * * ? *)', 4],
    ['rate(6 hours)', 4],
    ['rate(5 hours)', 5],
    ['rate(1 day)', 1],
    ['rate(2 days)', 1],
    ['rate(30 minutes)', 48],
    ['at(2025-06-01T06:00:00)', 1],
  ])('%s runs at most %i times a day', (expression, runs) => {
    expect(maxRunsPerDay(expression)).toBe(runs);
  });

  it('accepts the default and rejects anything above four, saying why and what to use', () => {
    expect(() => assertPsd2Schedule('cron(0 6,18 * * ? *)')).not.toThrow();
    expect(() => assertPsd2Schedule('cron(0 0/6 * * ? *)')).not.toThrow();
    expect(() => assertPsd2Schedule('rate(5 hours)')).toThrow(ScheduleExpressionError);
    expect(() => assertPsd2Schedule('cron(0 6,10,14,18,22 * * ? *)')).toThrow(
      /can run 5 times a day; PSD2 allows at most 4/,
    );
  });

  it('refuses expressions it cannot count instead of guessing', () => {
    expect(() => maxRunsPerDay('cron(0 6 * *)')).toThrow(/6 fields/);
    expect(() => maxRunsPerDay('cron(0 L * * ? *)')).toThrow(/beyond numbers/);
    expect(() => maxRunsPerDay('every day')).toThrow(/Unsupported schedule expression/);
    expect(() => maxRunsPerDay('cron(0 25 * * ? *)')).toThrow(/allowed 0-23/);
  });
});
