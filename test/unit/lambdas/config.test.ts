import { CONFIG_DEFAULTS, parseConfig } from '../../../lambdas/core/config';

const BASE = {
  TABLE_NAME: 'balances',
  POWENS_BASE_URL: 'https://acme-sandbox.biapi.pro/2.0',
  POWENS_SECRET_ID: 'arn:aws:secretsmanager:eu-west-3:123456789012:secret:powens',
  TENANT_ID: 'martin-family',
};

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    expect(parseConfig(BASE)).toEqual({
      tableName: 'balances',
      powensBaseUrl: BASE.POWENS_BASE_URL,
      secret: { kind: 'secretsManager', secretId: BASE.POWENS_SECRET_ID },
      tenantId: 'martin-family',
      powensTimeoutMs: 15_000,
      powensSyncTimeoutMs: 180_000,
      psd2DailySyncLimit: 4,
      historyTtlDays: 400,
      freshnessMaxAgeMinutes: 360,
      powensRate: { bucket: 'acme-sandbox.biapi.pro', callsPerMinute: 30, burst: 5, maxWaitMs: 900_000 },
    });
    expect(CONFIG_DEFAULTS.psd2DailySyncLimit).toBe(4);
  });

  it('reads the Powens rate budget (one bucket per Powens domain unless named)', () => {
    expect(
      parseConfig({
        ...BASE,
        POWENS_CALLS_PER_MINUTE: '600',
        POWENS_RATE_MAX_WAIT_MS: '5000',
        POWENS_RATE_BUCKET: 'client-a',
      }).powensRate,
    ).toEqual({ bucket: 'client-a', callsPerMinute: 600, burst: 100, maxWaitMs: 5000 });
    expect(parseConfig({ ...BASE, POWENS_CALLS_PER_MINUTE: '30', POWENS_RATE_BURST: '29' }).powensRate.burst).toBe(29);
  });

  it('reads a local secret file and numeric overrides', () => {
    const config = parseConfig({
      ...BASE,
      POWENS_SECRET_ID: undefined,
      POWENS_SECRET_FILE: 'secrets/powens.json',
      POWENS_TIMEOUT_MS: '2000',
      POWENS_SYNC_TIMEOUT_MS: '60000',
      PSD2_DAILY_SYNC_LIMIT: '2',
      HISTORY_TTL_DAYS: '30',
      FRESHNESS_MAX_AGE_MINUTES: '90',
    });
    expect(config).toMatchObject({
      secret: { kind: 'file', path: 'secrets/powens.json' },
      powensTimeoutMs: 2000,
      powensSyncTimeoutMs: 60_000,
      psd2DailySyncLimit: 2,
      historyTtlDays: 30,
      freshnessMaxAgeMinutes: 90,
    });
  });

  it.each([
    [{ TABLE_NAME: undefined }, /TABLE_NAME is not set/],
    [{ POWENS_CALLS_PER_MINUTE: '1' }, /POWENS_CALLS_PER_MINUTE=1 is out of range; expected 2\.\.1000000/],
    [
      { POWENS_CALLS_PER_MINUTE: '30', POWENS_RATE_BURST: '30' },
      /POWENS_RATE_BURST=30 is out of range; expected 1\.\.29/,
    ],
    [{ POWENS_RATE_BUCKET: 'a#b' }, /POWENS_RATE_BUCKET="a#b" is invalid/],
    [{ FRESHNESS_MAX_AGE_MINUTES: '6h' }, /FRESHNESS_MAX_AGE_MINUTES="6h" is not a whole number/],
    [{ TABLE_NAME: 'bad name!' }, /TABLE_NAME="bad name!" is not a valid DynamoDB table name/],
    [{ POWENS_BASE_URL: 'acme.biapi.pro' }, /POWENS_BASE_URL="acme.biapi.pro" is not an absolute URL/],
    [{ POWENS_BASE_URL: 'ftp://x/2.0' }, /must be an http\(s\) URL/],
    [{ POWENS_SECRET_ID: undefined }, /Neither POWENS_SECRET_ID nor POWENS_SECRET_FILE is set/],
    [
      { POWENS_SECRET_FILE: 'secrets/s.json' },
      /Both POWENS_SECRET_ID=.* and POWENS_SECRET_FILE="secrets\/s.json" are set/,
    ],
    [{ TENANT_ID: 'a#b' }, /TENANT_ID="a#b" is invalid/],
    [{ POWENS_TIMEOUT_MS: '15s' }, /POWENS_TIMEOUT_MS="15s" is not a whole number/],
    [{ POWENS_SYNC_TIMEOUT_MS: '0' }, /POWENS_SYNC_TIMEOUT_MS=0 is out of range/],
    [{ HISTORY_TTL_DAYS: '-1' }, /HISTORY_TTL_DAYS="-1" is not a whole number/],
    [
      { PSD2_DAILY_SYNC_LIMIT: '5' },
      /PSD2_DAILY_SYNC_LIMIT=5 exceeds the PSD2 limit of 4.*PSD2_HIGHER_LIMIT_AGREED=true/,
    ],
    [{ PSD2_DAILY_SYNC_LIMIT: '0' }, /PSD2_DAILY_SYNC_LIMIT=0 is out of range/],
    [{ PSD2_HIGHER_LIMIT_AGREED: 'yes' }, /PSD2_HIGHER_LIMIT_AGREED="yes" must be "true" or "false"/],
  ])('rejects %j with a ConfigurationError naming the variable and value', (overrides, message) => {
    expect(() => parseConfig({ ...BASE, ...overrides })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: expect.stringMatching(message) }),
    );
  });

  it('allows more than 4 unattended syncs only with the documented explicit agreement flag', () => {
    expect(
      parseConfig({ ...BASE, PSD2_DAILY_SYNC_LIMIT: '6', PSD2_HIGHER_LIMIT_AGREED: 'true' }).psd2DailySyncLimit,
    ).toBe(6);
  });
});
