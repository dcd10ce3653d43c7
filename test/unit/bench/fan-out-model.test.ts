/**
 * The fan-out bench's AWS wall-time MODEL (bench/fan-out.ts): the budget floor must be the pace the Powens rate budget
 * actually allows (a burst, then limit − burst calls per minute), not the bare limit.
 */
import { awsWallModel } from '../../../bench/fan-out';

const row = (users: number, powensCalls: number, childMedianMs: number, configuredCallsPerMinute: number) =>
  ({ users, maxConcurrency: 10, powensCalls, childMedianMs, configuredCallsPerMinute }) as Parameters<
    typeof awsWallModel
  >[0][number];

describe('fan-out bench awsWallModel', () => {
  it('floors the wall time at the rate budget pace: burst at once, then one call per emission interval', () => {
    // 600/min: burst 100, then 500/min (one every 120 ms).
    const model = awsWallModel([row(10, 38, 1_000, 60_000), row(10_000, 38_292, 500, 60_000)], 600);
    expect(model?.rows.find((r) => r.users === 10_000)).toEqual({
      users: 10_000,
      maxConcurrency10Seconds: Math.round(((38_292 - 100) * 120) / 1000),
      maxConcurrency40Seconds: Math.round(((38_292 - 100) * 120) / 1000),
    });
    // Few calls: the children's rounds dominate.
    expect(model?.rows.find((r) => r.users === 10)).toEqual({
      users: 10,
      maxConcurrency10Seconds: 1,
      maxConcurrency40Seconds: 1,
    });
  });
});
