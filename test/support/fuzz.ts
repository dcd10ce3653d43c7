/**
 * Seeded generation of odd inputs for the bad-input fuzz tests. Own tiny PRNG (mulberry32) so a failure reproduces
 * from its seed and index, with no dependency. Values are what a direct Lambda invocation can carry (JSON), plus the
 * shapes that broke handlers before: null, arrays, numbers, ids above 2^53, huge strings, many unknown keys,
 * malformed percent-encoding.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (maxExclusive: number) => Math.floor(next() * maxExclusive);
  return { next, int, pick: (items) => items[int(items.length)] as (typeof items)[number], chance: (p) => next() < p };
}

const ODD_NUMBERS = [
  0,
  -1,
  1,
  1.5,
  -0,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  Number.MAX_SAFE_INTEGER,
  1e308,
  -1e-308,
  4294967297,
];
const ODD_STRINGS = [
  '',
  ' ',
  '0',
  '1',
  'null',
  '{}',
  '[]',
  '%',
  '%E0%A4%A',
  '%zz',
  '../..',
  '__proto__',
  'constructor',
  'ünïcödé ✓',
  '\u0000',
  '\ud800',
  '9007199254740993',
  'a'.repeat(300),
];

/** Any JSON value, nested up to `depth`, biased toward the odd. */
export function jsonValue(rng: Rng, depth = 3): unknown {
  switch (rng.int(depth > 0 ? 8 : 5)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? rng.pick(ODD_NUMBERS) : rng.int(10_000) - 100;
    case 3:
      return rng.pick(ODD_STRINGS);
    case 4:
      return rng.chance(0.05)
        ? 'x'.repeat(256 * 1024)
        : String.fromCharCode(...Array.from({ length: rng.int(12) }, () => 32 + rng.int(95)));
    case 5:
      return Array.from({ length: rng.int(5) }, () => jsonValue(rng, depth - 1));
    case 6:
      return rng.chance(0.05)
        ? manyKeys(rng)
        : Object.fromEntries(
            Array.from({ length: rng.int(5) }, () => [rng.pick(ODD_STRINGS), jsonValue(rng, depth - 1)]),
          );
    default:
      return Array.from({ length: rng.int(3) }, () => rng.pick(ODD_NUMBERS));
  }
}

/** An object with thousands of unknown keys (the shape that once produced a 1.3 MB error). */
export function manyKeys(rng: Rng, count = 5_000): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`unknown_${i}_${'k'.repeat(rng.int(40))}`, i]));
}

/**
 * `template` with one or two fields replaced, removed or added (keys from `keys`, values from jsonValue): inputs
 * close to valid, which reach deeper code than random values do.
 */
export function mutate(rng: Rng, template: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(template);
  for (let i = 0, n = 1 + rng.int(2); i < n; i++) {
    const key = rng.pick(keys);
    const action = rng.int(3);
    if (action === 0) delete out[key];
    else out[key] = jsonValue(rng, 2);
  }
  return out;
}

/** Refresh inputs: valid ones, near-valid ones (ids above 2^53, duplicates, wrong types) and random values. */
export function refreshInputLike(
  rng: Rng,
  knownIds: { users: readonly number[]; connections: readonly number[] },
): unknown {
  const ids = (pool: readonly number[]) =>
    Array.from({ length: rng.int(4) }, () => (rng.chance(0.7) ? rng.pick(pool) : rng.pick(ODD_NUMBERS)));
  switch (rng.int(4)) {
    case 0:
      return jsonValue(rng);
    case 1:
      return mutate(rng, { userIds: ids(knownIds.users), connectionIds: ids(knownIds.connections) }, [
        'userIds',
        'connectionIds',
        'psuRequested',
        'requestId',
        'unknown',
      ]);
    case 2:
      return { connectionIds: [rng.pick(knownIds.connections) + 2 ** 53] };
    default:
      return { userIds: ids(knownIds.users), ...(rng.chance(0.3) ? manyKeys(rng, 50) : {}) };
  }
}
