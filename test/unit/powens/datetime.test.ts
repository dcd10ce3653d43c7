import { formatPowensDateTime, parsePowensDateTime } from '../../../lambdas/core/adapters/powens/datetime';

const iso = (s: string): string | undefined => parsePowensDateTime(s)?.toISOString();

describe('parsePowensDateTime (naive = Europe/Paris wall time)', () => {
  it('reads a naive summer time as Paris CEST (UTC+2), like Formance’s connector', () => {
    expect(iso('2024-05-15 12:34:56')).toBe('2024-05-15T10:34:56.000Z');
  });

  it('reads a naive winter time as Paris CET (UTC+1)', () => {
    expect(iso('2024-01-15 12:34:56')).toBe('2024-01-15T11:34:56.000Z');
  });

  it('honours an explicit offset or Z over the Paris default', () => {
    expect(iso('2024-05-15 12:34:56 +0200')).toBe('2024-05-15T10:34:56.000Z');
    expect(iso('2024-05-15 12:34:56+02:00')).toBe('2024-05-15T10:34:56.000Z');
    expect(iso('2024-01-15 12:34:56 -0500')).toBe('2024-01-15T17:34:56.000Z');
    expect(iso('2024-05-15T12:34:56Z')).toBe('2024-05-15T12:34:56.000Z');
  });

  it('accepts T separator, fractional seconds, missing seconds and date-only values', () => {
    expect(iso('2024-05-15T12:34:56.789')).toBe('2024-05-15T10:34:56.789Z');
    expect(iso('2024-05-15 12:34')).toBe('2024-05-15T10:34:00.000Z');
    expect(iso('2024-05-15')).toBe('2024-05-14T22:00:00.000Z');
    expect(iso('  2024-05-15 12:34:56  ')).toBe('2024-05-15T10:34:56.000Z');
  });

  it.each([
    null,
    undefined,
    '',
    'yesterday',
    '2024-02-30 10:00:00',
    '2024-13-01 10:00:00',
    '2024-05-15 24:00:00',
    '2024-05-15 12:60:00',
    '15/05/2024',
  ])('returns null for %p instead of throwing', (value) => {
    expect(parsePowensDateTime(value)).toBeNull();
  });

  it('settles DST edges: the spring-forward gap moves on, the fall-back hour is a valid instant', () => {
    // 02:30 does not exist in Paris on 2025-03-30; it lands on 03:30 CEST = 01:30Z.
    expect(iso('2025-03-30 02:30:00')).toBe('2025-03-30T01:30:00.000Z');
    // 02:30 happens twice on 2025-10-26 (00:30Z CEST and 01:30Z CET); either is acceptable, nothing else.
    expect(['2025-10-26T00:30:00.000Z', '2025-10-26T01:30:00.000Z']).toContain(iso('2025-10-26 02:30:00'));
  });
});

describe('formatPowensDateTime', () => {
  it('writes naive Paris wall time in Powens’ format', () => {
    expect(formatPowensDateTime(new Date('2024-05-15T10:34:56.999Z'))).toBe('2024-05-15 12:34:56');
    expect(formatPowensDateTime(new Date('2024-12-31T23:30:00Z'))).toBe('2025-01-01 00:30:00');
    expect(formatPowensDateTime(new Date('2024-05-15T10:34:56Z'))).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });

  it('round-trips with parsePowensDateTime across the year', () => {
    for (let month = 0; month < 12; month++) {
      const at = new Date(Date.UTC(2025, month, 10, 8, 15, 30));
      expect(parsePowensDateTime(formatPowensDateTime(at))?.toISOString()).toBe(at.toISOString());
    }
  });
});
