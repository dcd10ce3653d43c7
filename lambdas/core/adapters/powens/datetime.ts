/**
 * Powens DateTimes are `"YYYY-MM-DD HH:MM:SS"` with no zone (OpenAPI pattern `^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`).
 *
 * Decision: a naive DateTime is read as Europe/Paris wall time. Powens does not state the zone (docs/powens-api.md §2.4),
 * but the two observations we have agree on Paris: Formance's production connector converts them as Europe/Paris
 * (`12:34:56` → `10:34:56Z` in May) and pypowens saw some connectors append ` +0200` (Paris summer time). Reading
 * them as UTC would make `last_update` look up to two hours newer than it is, which could let a staleness check
 * skip a needed refresh. An explicit offset (`+0200`, `+02:00`, `Z`) always wins. The sandbox emits naive Paris
 * time with formatPowensDateTime, so the two stay consistent.
 */

export const POWENS_TIME_ZONE = 'Europe/Paris';

const PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

let parisFormatter: Intl.DateTimeFormat | undefined;

function formatter(): Intl.DateTimeFormat {
  parisFormatter ??= new Intl.DateTimeFormat('en-US', {
    timeZone: POWENS_TIME_ZONE,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  return parisFormatter;
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function parisWallTime(utcMs: number): WallTime {
  const parts: Record<string, number> = {};
  for (const part of formatter().formatToParts(new Date(utcMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? NaN,
    month: parts.month ?? NaN,
    day: parts.day ?? NaN,
    hour: parts.hour ?? NaN,
    minute: parts.minute ?? NaN,
    second: parts.second ?? NaN,
  };
}

/** Paris offset from UTC (ms) at a given instant. */
function parisOffsetMs(utcMs: number): number {
  const w = parisWallTime(utcMs);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/**
 * Parses a Powens DateTime leniently: `YYYY-MM-DD HH:MM:SS` (also `T` separator, missing seconds, fractional
 * seconds, date only, trailing `Z` / `+0200` / `+02:00`). Returns null for null, empty or invalid input (including
 * impossible dates like 2024-02-30) instead of throwing: a bad timestamp must not fail a whole refresh.
 */
export function parsePowensDateTime(value: string | null | undefined): Date | null {
  if (typeof value !== 'string') return null;
  const match = PATTERN.exec(value.trim());
  if (!match) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const ms = frac === '' ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const check = new Date(wallMs);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return null;
  }
  if (zone !== undefined) {
    if (zone.toUpperCase() === 'Z') return new Date(wallMs);
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    return new Date(wallMs - sign * offsetMin * 60_000);
  }
  // Two passes settle the offset across DST changes; a wall time inside the spring-forward gap lands one hour on.
  const firstGuess = wallMs - parisOffsetMs(wallMs);
  return new Date(wallMs - parisOffsetMs(firstGuess));
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Formats an instant the way Powens does: naive Europe/Paris wall time, `YYYY-MM-DD HH:MM:SS`. */
export function formatPowensDateTime(date: Date): string {
  const w = parisWallTime(date.getTime());
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}
