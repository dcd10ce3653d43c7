import { ConfigurationError } from '../../../lambdas/core/errors';
import { createPowensClient, parseRetryAfter, totalsByCurrency } from '../../../lambdas/core/adapters/powens/client';
import type { PowensBankAccount } from '../../../lambdas/core/adapters/powens/types';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-02T06:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 7 ', now)).toBe(7_000);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Mon, 02 Jun 2025 06:00:45 GMT', now)).toBe(45_000);
    expect(parseRetryAfter('Mon, 02 Jun 2025 05:59:00 GMT', now)).toBe(0);
  });

  it.each([null, undefined, '', 'soon', '-5', '12abc', 'NaN'])('ignores %p', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('createPowensClient configuration', () => {
  const ok = { timeoutMs: 1000, syncTimeoutMs: 120_000 };

  it.each([
    ['not a url', /not an absolute URL/],
    ['ftp://x.biapi.pro/2.0', /must use https/],
    ['https://x.biapi.pro/2.0?domain=x', /must not carry a query/],
  ])('rejects baseUrl %s with a ConfigurationError naming it', (baseUrl, message) => {
    expect(() => createPowensClient({ baseUrl, ...ok })).toThrow(ConfigurationError);
    expect(() => createPowensClient({ baseUrl, ...ok })).toThrow(message);
  });

  it.each([0, -1, Number.NaN])('rejects timeoutMs %p', (timeoutMs) => {
    expect(() => createPowensClient({ baseUrl: 'https://x.biapi.pro/2.0', timeoutMs, syncTimeoutMs: 1 })).toThrow(
      /timeoutMs/,
    );
  });

  it('keeps the /2.0 prefix when building URLs (the ContractSpec client lost it with new URL("/x", base))', async () => {
    // The only test double in this file: a fetch that records the URL — there is no network involved.
    const seen: string[] = [];
    const fakeFetch = (async (input: string | URL | Request) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ connections: [] }), { status: 200 });
    }) as typeof fetch;
    for (const baseUrl of [
      'https://acme-sandbox.biapi.pro/2.0',
      'https://acme-sandbox.biapi.pro/2.0/',
      'https://acme-sandbox.biapi.pro/2.0//',
    ]) {
      await createPowensClient({ baseUrl, ...ok, fetch: fakeFetch }).listConnections({ userId: 42, token: 't' });
    }
    expect(seen).toEqual(Array(3).fill('https://acme-sandbox.biapi.pro/2.0/users/42/connections'));
  });
});

describe('totalsByCurrency', () => {
  it('sums per currency, rounds to cents and skips null balances', () => {
    const account = (balance: number | null, currency: string): PowensBankAccount =>
      ({
        balance,
        coming: null,
        currency: { id: currency, name: currency, symbol: currency, precision: 2 },
      }) as PowensBankAccount;
    expect(
      totalsByCurrency([account(0.1, 'EUR'), account(0.2, 'EUR'), account(null, 'EUR'), account(5, 'CHF')], 'balance'),
    ).toEqual({
      EUR: 0.3,
      CHF: 5,
    });
  });
});
