import { generateDataset, secretFor } from '../../../infra/local/powens-sandbox/dataset';
import { FaultRegistry, parseFaultRule } from '../../../infra/local/powens-sandbox/faults';
import { createFamilyOfficeDataset, FAMILY_OFFICE_IDS } from '../../../infra/local/powens-sandbox/family-office';
import { ASSET_CLASSES, assetClassOf } from '../../../lambdas/core/domain/asset-class';

describe('family-office dataset', () => {
  const dataset = createFamilyOfficeDataset();
  const connections = dataset.users.flatMap((u) => u.connections);
  const accounts = connections.flatMap((c) => c.accounts);

  it('has three users with 2–3 connections each and unique ids', () => {
    expect(dataset.users.map((u) => u.label)).toEqual(['Claire Martin', 'Louis Martin', 'Martin Holding SAS']);
    for (const user of dataset.users) expect(user.connections.length).toBeGreaterThanOrEqual(2);
    expect(new Set(connections.map((c) => c.connection.id)).size).toBe(connections.length);
    expect(new Set(accounts.map((a) => a.id)).size).toBe(accounts.length);
  });

  it('has exactly one SCARequired connection and one disabled account', () => {
    expect(
      connections.filter((c) => c.connection.state !== null).map((c) => [c.connection.id, c.connection.state]),
    ).toEqual([[FAMILY_OFFICE_IDS.scaRequiredConnection, 'SCARequired']]);
    expect(accounts.filter((a) => a.disabled !== null).map((a) => a.id)).toEqual([FAMILY_OFFICE_IDS.disabledAccount]);
  });

  it('covers EUR, USD, CHF, GBP and the main account types', () => {
    expect(new Set(accounts.map((a) => a.currency?.id))).toEqual(new Set(['EUR', 'USD', 'CHF', 'GBP']));
    for (const type of ['checking', 'savings', 'card', 'market', 'lifeinsurance']) {
      expect(accounts.some((a) => a.type === type)).toBe(true);
    }
  });

  it('exercises every asset class among the enabled accounts', () => {
    const enabled = accounts.filter((a) => a.disabled === null && a.deleted === null);
    expect(new Set(enabled.map((a) => assetClassOf(a.type)))).toEqual(new Set(ASSET_CLASSES));
  });

  it('exposes the tokens in the Powens secret shape', () => {
    const secret = secretFor(dataset);
    expect(secret).toEqual({
      clientId: dataset.clientId,
      clientSecret: dataset.clientSecret,
      users: dataset.users.map((u) => ({ userId: u.id, token: u.token, label: u.label })),
      // What the sandbox signs its webhooks with; parsePowensSecret accepts it (>= 16 characters).
      webhookSecret: expect.stringMatching(/^sbx-webhook-.{16,}$/),
    });
    expect(new Set(secret.users.map((u) => u.token)).size).toBe(3);
  });

  it('dates everything relative to the given now', () => {
    const later = createFamilyOfficeDataset({ now: new Date('2025-12-01T12:00:00Z') });
    expect(later.users[0]?.connections[0]?.connection.last_update).toBe('2025-11-30 11:00:00');
  });
});

describe('generateDataset', () => {
  const options = {
    users: 100,
    connectionsPerUser: 4,
    accountsPerConnection: 25,
    currencies: ['EUR', 'USD', 'CHF', 'GBP'],
    seed: 7,
  };

  it('builds 10,000 accounts with unique ids', () => {
    const dataset = generateDataset(options);
    const accounts = dataset.users.flatMap((u) => u.connections.flatMap((c) => c.accounts));
    expect(accounts).toHaveLength(10_000);
    expect(new Set(accounts.map((a) => a.id)).size).toBe(10_000);
    expect(new Set(accounts.map((a) => a.currency?.id))).toEqual(new Set(options.currencies));
  });

  it('is deterministic for a seed and differs across seeds', () => {
    expect(generateDataset(options)).toEqual(generateDataset(options));
    expect(generateDataset({ ...options, seed: 8 }).users[0]?.token).not.toBe(generateDataset(options).users[0]?.token);
  });

  it('puts every Nth connection in SCARequired when asked', () => {
    const dataset = generateDataset({ ...options, users: 3, scaRequiredEvery: 4 });
    const states = dataset.users.flatMap((u) => u.connections.map((c) => c.connection.state));
    expect(states.filter((s) => s === 'SCARequired')).toHaveLength(3);
  });
});

describe('FaultRegistry', () => {
  it('matches method + glob path, counts down and then stops', () => {
    const faults = new FaultRegistry();
    faults.add({ method: 'put', path: '/users/*/connections/*', fault: { kind: 'reset' }, times: 2 });
    expect(faults.take('GET', '/users/me/connections/1')).toBeUndefined();
    expect(faults.take('PUT', '/users/me/connections')).toBeUndefined();
    expect(faults.take('PUT', '/users/me/connections/1')).toEqual({ kind: 'reset' });
    expect(faults.list()[0]?.remaining).toBe(1);
    expect(faults.take('PUT', '/users/12/connections/9')).toEqual({ kind: 'reset' });
    expect(faults.take('PUT', '/users/12/connections/9')).toBeUndefined();
  });

  it('supports ** and RegExp patterns, and any path when absent', () => {
    const faults = new FaultRegistry();
    faults.add({ path: '/users/**', fault: { kind: 'hang' } });
    faults.add({ path: /accounts$/, fault: { kind: 'malformed' } });
    faults.add({ fault: { kind: 'status', status: 503 } });
    expect(faults.take('GET', '/users/me/connections/1/accounts')).toEqual({ kind: 'hang' });
    expect(faults.take('GET', '/users/me/accounts')).toEqual({ kind: 'malformed' });
    expect(faults.take('POST', '/auth/init')).toEqual({ kind: 'status', status: 503 });
  });

  it.each([
    [{}, /fault.kind/],
    [{ fault: { kind: 'explode' } }, /fault.kind must be one of/],
    [{ fault: { kind: 'status', status: 200 } }, /fault.status/],
    [{ fault: { kind: 'hang' }, times: 0 }, /times/],
    [{ fault: { kind: 'hang' }, path: 5 }, /path/],
  ])('parseFaultRule rejects %j', (input, message) => {
    expect(() => parseFaultRule(input)).toThrow(message);
  });
});
