import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createPsd2Budget, PSD2_WINDOW_MS } from '../../../lambdas/core/adapters/dynamodb/psd2-budget';
import { useDynalite } from '../../support/dynalite';

describe('PSD2 unattended-sync budget on dynalite', () => {
  const dynamo = useDynalite();
  let n = 0;
  async function newBudget(clock: { now: number }, limit?: number) {
    const tableName = `psd2-${++n}`;
    await dynamo().createTable(tableName);
    const budget = createPsd2Budget({
      client: dynamo().doc,
      tableName,
      clock: () => new Date(clock.now),
      ...(limit === undefined ? {} : { limit }),
    });
    return { tableName, budget };
  }

  it('10 concurrent reservations on one connection: exactly 4 granted, 4 distinct slots', async () => {
    const clock = { now: Date.parse('2025-06-02T06:00:00Z') };
    const { tableName, budget } = await newBudget(clock);
    const results = await Promise.all(Array.from({ length: 10 }, () => budget.reserve(1001, 2001)));
    const granted = results.filter((r) => r.granted);
    expect(granted).toHaveLength(4);
    expect(new Set(granted.map((r) => (r.granted ? r.slot : -1)))).toEqual(new Set([0, 1, 2, 3]));
    expect(results.filter((r) => !r.granted)).toEqual(Array(6).fill({ granted: false, limit: 4 }));

    const { Items } = await dynamo().doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'PSD2#1001#2001' },
      }),
    );
    expect(Items?.map((i) => i.sk)).toEqual(['SLOT#0', 'SLOT#1', 'SLOT#2', 'SLOT#3']);
    expect(Items?.every((i) => i.expiresAt === Math.floor((clock.now + PSD2_WINDOW_MS) / 1000) + 86_400)).toBe(true);
  });

  it('is a rolling 24 h window: a slot frees exactly when its use is more than 24 h old', async () => {
    const start = Date.parse('2025-06-02T00:00:00Z');
    const clock = { now: start };
    const { budget } = await newBudget(clock);
    for (let i = 0; i < 4; i++) {
      clock.now = start + i * 3_600_000; // 00:00, 01:00, 02:00, 03:00
      expect((await budget.reserve(1, 2)).granted).toBe(true);
    }
    clock.now = start + PSD2_WINDOW_MS - 1;
    expect((await budget.reserve(1, 2)).granted).toBe(false);
    clock.now = start + PSD2_WINDOW_MS; // the 00:00 use is exactly 24 h old: still inside the window
    expect((await budget.reserve(1, 2)).granted).toBe(false);
    clock.now = start + PSD2_WINDOW_MS + 1;
    expect(await budget.reserve(1, 2)).toMatchObject({ granted: true, slot: 0 });
    expect((await budget.reserve(1, 2)).granted).toBe(false); // 01:00 use is still within 24 h
  });

  it('budgets are per connection and honour a configured limit', async () => {
    const clock = { now: Date.parse('2025-06-02T06:00:00Z') };
    const { budget } = await newBudget(clock, 2);
    expect(budget.limit).toBe(2);
    const a = await Promise.all([budget.reserve(1, 10), budget.reserve(1, 10), budget.reserve(1, 10)]);
    const b = await budget.reserve(1, 11);
    expect(a.filter((r) => r.granted)).toHaveLength(2);
    expect(b.granted).toBe(true);
  });

  it("counts Powens' own sync once (idempotent), never one we sent, and not one older than 24 h", async () => {
    const clock = { now: Date.parse('2025-06-02T06:00:00Z') };
    const { budget } = await newBudget(clock);
    const auto = new Date('2025-06-02T01:00:00Z');
    expect(await budget.observeSync(1, 2, auto)).toBe('counted');
    expect(await budget.observeSync(1, 2, auto)).toBe('already_counted');
    expect(await budget.observeSync(1, 2, new Date(clock.now - PSD2_WINDOW_MS - 1))).toBe('outside_window');
    // Our own request, reserved now; Powens stamps its last_update a few minutes later (second precision).
    expect(await budget.reserve(1, 2)).toMatchObject({ granted: true, slot: 1 });
    expect(await budget.observeSync(1, 2, new Date(clock.now + 4 * 60_000))).toBe('ours');
    // Powens stamps whole seconds: our sync may read as finished just before the reservation.
    expect(await budget.observeSync(1, 2, new Date(clock.now - 900))).toBe('ours');
    expect((await budget.reserve(1, 2)).granted).toBe(true);
    expect((await budget.reserve(1, 2)).granted).toBe(true);
    expect((await budget.reserve(1, 2)).granted).toBe(false);
    // A slot taken by an observation frees 24 h after the sync it stands for, not after we saw it.
    clock.now = auto.getTime() + PSD2_WINDOW_MS + 1;
    expect(await budget.reserve(1, 2)).toMatchObject({ granted: true, slot: 0 });
  });

  it('surfaces a missing table as ConfigurationError (not an over-budget answer)', async () => {
    const budget = createPsd2Budget({ client: dynamo().doc, tableName: 'missing-table' });
    await expect(budget.reserve(1, 2)).rejects.toMatchObject({ name: 'ConfigurationError' });
  });
});
