/** Positions per currency and asset class, exact totals, and staleness (age or a connection that needs the holder). */
import type { AccountBalanceRecord } from '../../../lambdas/core/domain/balances';
import {
  cashPositions,
  positionsOf,
  staleReasons,
  sumExact,
  toBalanceView,
  toMinorUnits,
} from '../../../lambdas/core/domain/positions';
import type { AssetClass } from '../../../lambdas/core/domain/asset-class';

const NOW = new Date('2025-06-02T06:00:00.000Z');
const POLICY = { maxAgeMinutes: 360, now: NOW };
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();

let n = 0;
function rec(
  currency: string,
  assetClass: AssetClass,
  currentBalance: number,
  extra: Partial<AccountBalanceRecord> = {},
): AccountBalanceRecord {
  n += 1;
  return {
    id: `r${n}`,
    accountId: String(n),
    tenantId: 't',
    connectionId: 'c1',
    balanceType: 'current',
    accountType: null,
    assetClass,
    currentBalance,
    currency,
    lastUpdatedAt: hoursAgo(1),
    createdAt: NOW.toISOString(),
    metadata: { precision: 2 },
    ...extra,
  };
}

describe('exact decimal sums', () => {
  it('sums in minor units: a thousand 0.10 is exactly 100, 0.1 + 0.2 is 0.3', () => {
    expect(sumExact(Array(1000).fill(0.1), 2)).toBe(100);
    expect(sumExact([0.1, 0.2], 2)).toBe(0.3);
    expect(sumExact([1_500_000, 412_380.66, -4_200, 0.01], 2)).toBe(1_908_180.67);
    expect(sumExact([0.12345678, 0.00000001], 8)).toBe(0.12345679);
    expect(sumExact([1_000_000_000.05, 2_000_000_000.07], 2)).toBe(3_000_000_000.12);
    expect(sumExact([], 2)).toBe(0);
  });

  it('converts amounts to minor units exactly, negative included', () => {
    expect(toMinorUnits(-1_284.56, 2)).toBe(-128_456n);
    expect(toMinorUnits(1234, 0)).toBe(1234n);
    expect(() => toMinorUnits(Number.NaN, 2)).toThrow(RangeError);
  });
});

describe('positionsOf', () => {
  it('one row per currency and asset class, never summed across currencies or classes', () => {
    const records = [
      rec('EUR', 'cash', 0.1, { availableBalance: 0.05 }),
      rec('EUR', 'cash', 0.2),
      rec('EUR', 'investment', 245_800.12),
      rec('EUR', 'loan', -312_450.18),
      rec('EUR', 'card', -1_284.56, { availableBalance: -2_569.12 }),
      rec('USD', 'cash', 88_340.02),
      rec('USD', 'investment', 2_345_678.9),
      rec('CHF', 'unknown', 5),
    ];
    const positions = positionsOf(records, POLICY);
    expect(positions.map((p) => [p.currency, p.assetClass, p.current, p.available, p.accounts])).toEqual([
      ['CHF', 'unknown', 5, 5, 1],
      ['EUR', 'cash', 0.3, 0.25, 2],
      ['EUR', 'card', -1_284.56, -2_569.12, 1],
      ['EUR', 'investment', 245_800.12, 245_800.12, 1],
      ['EUR', 'loan', -312_450.18, -312_450.18, 1],
      ['USD', 'cash', 88_340.02, 88_340.02, 1],
      ['USD', 'investment', 2_345_678.9, 2_345_678.9, 1],
    ]);
    // The cash position excludes the loan, the card, the portfolio and the unclassified account.
    expect(cashPositions(records)).toEqual([
      { currency: 'EUR', current: 0.3, available: 0.25, accounts: 2 },
      { currency: 'USD', current: 88_340.02, available: 88_340.02, accounts: 1 },
    ]);
  });

  it('totals are exact to the currency precision (JPY 0, EUR 2, BTC 8)', () => {
    const positions = positionsOf(
      [
        rec('JPY', 'cash', 1_000_001, { metadata: { precision: 0 } }),
        rec('JPY', 'cash', 2, { metadata: { precision: 0 } }),
        ...Array.from({ length: 10 }, () => rec('BTC', 'investment', 0.00000001, { metadata: { precision: 8 } })),
        ...Array.from({ length: 3 }, () => rec('EUR', 'cash', 33.33)),
      ],
      POLICY,
    );
    expect(positions.map((p) => [p.currency, p.current])).toEqual([
      ['BTC', 0.0000001],
      ['EUR', 99.99],
      ['JPY', 1_000_003],
    ]);
  });

  it('counts stale accounts and gives the oldest balance time of each row', () => {
    const fresh = rec('EUR', 'cash', 1, { lastUpdatedAt: hoursAgo(2) });
    const old = rec('EUR', 'cash', 2, { lastUpdatedAt: hoursAgo(30) });
    const blocked = rec('EUR', 'cash', 3, { lastUpdatedAt: hoursAgo(1), connectionState: 'SCARequired' });
    const [row] = positionsOf([fresh, old, blocked], POLICY);
    expect(row).toEqual({
      currency: 'EUR',
      assetClass: 'cash',
      current: 6,
      available: 6,
      accounts: 3,
      staleAccounts: 2,
      oldestBalanceAt: hoursAgo(30),
    });
  });
});

describe('staleness', () => {
  it('a balance older than the freshness threshold is stale (too_old); at the threshold it is not', () => {
    expect(staleReasons(rec('EUR', 'cash', 1, { lastUpdatedAt: hoursAgo(6) }), POLICY)).toEqual([]);
    expect(staleReasons(rec('EUR', 'cash', 1, { lastUpdatedAt: hoursAgo(6.01) }), POLICY)).toEqual(['too_old']);
    expect(
      staleReasons(rec('EUR', 'cash', 1, { lastUpdatedAt: hoursAgo(6.01) }), { ...POLICY, maxAgeMinutes: 720 }),
    ).toEqual([]);
  });

  it("an SCA-blocked connection's balances are stale however recent (needs_user)", () => {
    for (const state of [
      'SCARequired',
      'webauthRequired',
      'wrongpass',
      'passwordExpired',
      'decoupled',
      'notSupported',
      'someFutureState',
    ]) {
      const view = toBalanceView(
        rec('EUR', 'cash', 1, { lastUpdatedAt: hoursAgo(0.1), connectionState: state }),
        POLICY,
      );
      expect(view).toMatchObject({ stale: true, staleReasons: ['needs_user'] });
    }
  });

  it('healthy, transient or unknown connection states do not make a fresh balance stale', () => {
    for (const connectionState of [null, 'rateLimiting', 'validating', undefined]) {
      const record = rec('EUR', 'cash', 1, connectionState === undefined ? {} : { connectionState });
      const view = toBalanceView(record, POLICY);
      expect(view.stale).toBe(false);
      expect('staleReasons' in view).toBe(false);
    }
  });

  it('an unparseable balance time is stale, not fresh', () => {
    expect(staleReasons(rec('EUR', 'cash', 1, { lastUpdatedAt: 'yesterday' }), POLICY)).toEqual(['too_old']);
  });
});
