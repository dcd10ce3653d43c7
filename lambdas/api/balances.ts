/** GET /balances: the latest snapshot of every account of the tenant, totalled per currency for dashboards. */
import { cashPositions, type BalanceStore, type CashPosition } from '../core/adapters/dynamodb/balance-store';

export interface BalancesView {
  tenantId: string;
  positions: CashPosition[];
  /** Number of accounts with a stored balance. */
  accounts: number;
  /** Oldest and newest balance time among the accounts (ISO-8601), so a dashboard can flag stale data. */
  oldestBalanceAt?: string;
  newestBalanceAt?: string;
}

export async function latestBalances(store: Pick<BalanceStore, 'listLatest'>, tenantId: string): Promise<BalancesView> {
  const records = await store.listLatest(tenantId);
  const view: BalancesView = { tenantId, positions: cashPositions(records), accounts: records.length };
  const times = records.map((r) => r.lastUpdatedAt).sort();
  if (times.length > 0) {
    view.oldestBalanceAt = times[0];
    view.newestBalanceAt = times[times.length - 1];
  }
  return view;
}
