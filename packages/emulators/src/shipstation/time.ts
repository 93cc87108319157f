import { DateTime } from 'luxon';

/**
 * ShipStation speaks US Pacific wall-clock time without an offset. The emulator keeps the truth as UTC
 * instants and renders it the way ShipStation does; filters and sorting compare wall-clock values, as a
 * database that stores Pacific local time would (so the repeated fall-back hour interleaves).
 */
export const ZONE = 'America/Los_Angeles';

/** How a timestamp is printed: seven fractional digits (most fields), .NET-trimmed digits (nested items, stores), or a date. */
export type StampStyle = 'seven' | 'trim' | 'date';

export class Stamp {
  /** The true instant (ms since epoch, UTC). */
  readonly utcMs: number;
  readonly style: StampStyle;
  /**
   * A wall-clock string exactly as a client sent it (orderDate and friends are client-supplied and may
   * name a time that does not exist, inside the spring-forward gap). Rendered verbatim.
   */
  readonly rawLocal: string | undefined;

  constructor(utcMs: number, style: StampStyle = 'seven', rawLocal?: string) {
    this.utcMs = utcMs;
    this.style = style;
    this.rawLocal = rawLocal;
  }

  static utc(iso: string, style: StampStyle = 'seven'): Stamp {
    const ms = Date.parse(iso);
    if (!Number.isFinite(ms)) throw new Error(`bad instant ${iso}`);
    return new Stamp(ms, style);
  }

  /** A client-supplied wall-clock value, kept verbatim (may be inside the spring-forward gap). */
  static local(wall: string, style: StampStyle = 'seven'): Stamp {
    const dt = DateTime.fromISO(wall, { zone: ZONE });
    return new Stamp(dt.toMillis(), style, wall);
  }

  get iso(): string {
    return new Date(this.utcMs).toISOString();
  }

  /** Comparable wall-clock key `yyyy-MM-dd HH:mm:ss.SSS` (what filters and sorting use). */
  private wallCache: string | undefined;
  private renderCache: string | undefined;

  wallKey(): string {
    return (this.wallCache ??= this.computeWallKey());
  }

  render(): string {
    return (this.renderCache ??= this.computeRender());
  }

  private computeWallKey(): string {
    if (this.rawLocal) {
      const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(this.rawLocal);
      if (m) return `${m[1]} ${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}`;
    }
    return DateTime.fromMillis(this.utcMs, { zone: ZONE }).toFormat('yyyy-MM-dd HH:mm:ss.SSS');
  }

  private computeRender(): string {
    if (this.rawLocal) return this.rawLocal;
    const local = DateTime.fromMillis(this.utcMs, { zone: ZONE });
    if (this.style === 'date') return local.toFormat('yyyy-MM-dd');
    const base = local.toFormat("yyyy-MM-dd'T'HH:mm:ss");
    const ms = local.toFormat('SSS');
    if (this.style === 'seven') return `${base}.${ms}0000`;
    const trimmed = ms.replace(/0+$/, '');
    return trimmed ? `${base}.${trimmed}` : base;
  }

  toJSON(): string {
    return this.render();
  }
}

/**
 * Parses a date filter (`yyyy-mm-dd hh:mm:ss`, also `yyyy-mm-dd`, ISO with `T` and fractional digits)
 * into a wall-clock key comparable with `Stamp.wallKey()`; undefined when it is not a date.
 */
export function filterKey(value: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', f = ''] = m;
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  return `${y}-${mo}-${d} ${h}:${mi}:${s}.${f.padEnd(3, '0').slice(0, 3)}`;
}

/** Replaces every Stamp in a stored record by its Pacific rendering (deep). */
export function renderDeep(value: unknown): unknown {
  if (value instanceof Stamp) return value.render();
  if (Array.isArray(value)) return value.map(renderDeep);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v);
    return out;
  }
  return value;
}

/** Replaces every Stamp by its true UTC ISO instant (deep): the source of truth tests compare with. */
export function truthDeep(value: unknown): unknown {
  if (value instanceof Stamp) return value.style === 'date' && !value.rawLocal ? value.render() : value.iso;
  if (Array.isArray(value)) return value.map(truthDeep);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = truthDeep(v);
    return out;
  }
  return value;
}
