import { mapAccountToBalance } from '../../../lambdas/core/domain/balances';
import type { PowensBankAccount } from '../../../lambdas/core/adapters/powens/types';

const NOW = new Date('2025-06-02T06:00:00Z');
function account(overrides: Partial<PowensBankAccount> = {}): PowensBankAccount {
  return {
    id: 3101,
    id_connection: 2001,
    id_user: 1001,
    id_source: 2001,
    number: null,
    iban: null,
    original_name: 'CHEQUES',
    name: 'Chèques',
    balance: 100.1,
    coming: null,
    currency: { id: 'EUR', name: 'Euro', symbol: '€', precision: 2 },
    type: 'checking',
    id_type: 1,
    usage: 'PRIV',
    display: true,
    bookmarked: false,
    last_update: '2025-06-01 12:34:56', // Paris summer time (UTC+2)
    deleted: null,
    disabled: null,
    error: null,
    ...overrides,
  };
}
const ctx = { tenantId: 't', userId: 1001, now: NOW };

describe('mapAccountToBalance', () => {
  it('maps booked balance, pending-adjusted available balance and the Paris-time timestamp', () => {
    const result = mapAccountToBalance(account({ balance: 0.1, coming: 0.2 }), ctx);
    expect(result).toEqual({
      record: {
        id: 'powens:3101:2025-06-01T10:34:56.000Z',
        accountId: '3101',
        tenantId: 't',
        connectionId: '2001',
        balanceType: 'current',
        accountType: 'checking',
        assetClass: 'cash',
        currentBalance: 0.1,
        availableBalance: 0.3, // not 0.30000000000000004
        currency: 'EUR',
        lastUpdatedAt: '2025-06-01T10:34:56.000Z',
        createdAt: NOW.toISOString(),
        metadata: {
          provider: 'powens',
          powensUserId: 1001,
          name: 'Chèques',
          type: 'checking',
          precision: 2,
          lastUpdatedFrom: 'account',
          coming: 0.2,
          usage: 'PRIV',
        },
      },
    });
  });

  it('keeps the Powens type, derives the asset class and records the connection state when it was read', () => {
    const loan = mapAccountToBalance(account({ type: 'loan', balance: -1000 }), {
      ...ctx,
      connectionState: 'SCARequired',
    });
    expect('record' in loan && loan.record).toMatchObject({
      accountType: 'loan',
      assetClass: 'loan',
      connectionState: 'SCARequired',
    });
    const future = mapAccountToBalance(account({ type: 'tokenized_gold' }), ctx);
    expect('record' in future && future.record).toMatchObject({ accountType: 'tokenized_gold', assetClass: 'unknown' });
    expect('record' in future && 'connectionState' in future.record).toBe(false); // not read: unknown, not "healthy"
  });

  it('omits availableBalance when coming is null and falls back to the connection time', () => {
    const result = mapAccountToBalance(account({ last_update: null }), {
      ...ctx,
      connectionLastUpdate: '2025-01-15 09:00:00',
    });
    expect('record' in result && result.record.availableBalance).toBeUndefined();
    expect('record' in result && result.record.lastUpdatedAt).toBe('2025-01-15T08:00:00.000Z'); // winter: UTC+1
  });

  it('uses the currency precision (crypto, yen)', () => {
    const btc = mapAccountToBalance(
      account({
        balance: 0.123456789,
        coming: 0.000000001,
        currency: { id: 'BTC', name: 'Bitcoin', symbol: '₿', precision: 8 },
      }),
      ctx,
    );
    expect('record' in btc && [btc.record.currentBalance, btc.record.availableBalance]).toEqual([
      0.12345679, 0.12345679,
    ]);
  });

  it.each([
    [{ balance: null }, 'no_balance'],
    [{ currency: null }, 'no_currency'],
    [{ currency: { id: 'USDT', name: 'Tether', symbol: '₮', precision: 2 } }, 'unsupported_currency'],
    [{ id_connection: null }, 'no_connection'],
    [{ last_update: null }, 'no_timestamp'],
    [{ disabled: '2025-01-01 00:00:00' }, 'disabled_or_deleted'],
  ] as const)('skips %j as %s', (overrides, reason) => {
    const result = mapAccountToBalance(account(overrides as Partial<PowensBankAccount>), ctx);
    expect(result).toEqual({ skipped: expect.objectContaining({ userId: 1001, accountId: '3101', reason }) });
  });
});
