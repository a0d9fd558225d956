import type { Datum } from '@probemesh/model';

/** A round's readings and results stamped with one time, by `roundKey`: the indicators among them, and the keys whose figure is incomplete. */
export interface Slot {
  readonly values: Map<string, Datum>;
  readonly indicators: Set<string>;
  incomplete?: Set<string>;
  /** The indicator set last (in `indicators` already). */
  last?: string;
}

/**
 * What one tick of a rule read and computed, by time: most readings carry the tick's own time
 * (`now`); a connector may stamp its samples with their own (a merged window's start), several
 * per tick. Formulas are computed at the times their inputs have readings.
 */
export class Round {
  private readonly slots = new Map<number, Slot>();
  /** The slot of the tick's own time. */
  readonly now: Slot;

  constructor(readonly at: number) {
    this.now = this.slot(at);
  }

  /** The slot of `ts`, made when it has none yet. */
  slot(ts: number): Slot {
    let s = this.slots.get(ts);
    if (!s) this.slots.set(ts, (s = { values: new Map(), indicators: new Set() }));
    return s;
  }

  /** Records a reading or result of `indicator` at `ts` under `key`. */
  set(ts: number, indicator: string, key: string, datum: Datum, incomplete = false): void {
    const s = ts === this.at ? this.now : this.slot(ts);
    s.values.set(key, datum);
    if (s.last !== indicator) s.indicators.add((s.last = indicator)); // a table's readings come together: one add
    if (incomplete) (s.incomplete ??= new Set()).add(key);
    else if (s.incomplete) s.incomplete.delete(key);
  }

  /** The times at which any of `indicators` has a reading or result in this round, oldest first. */
  timesOf(indicators: ReadonlySet<string>): number[] {
    const out: number[] = [];
    for (const [ts, s] of this.slots) for (const i of indicators) if (s.indicators.has(i)) {
      out.push(ts);
      break;
    }
    return out.sort((a, b) => a - b);
  }
}
