/**
 * Active trailing stops of one series and side, without touching each of them per tick.
 *
 * Coordinates are signed so that every side reads like a long: x = dir·price, the peak is the
 * running maximum of x, and a member's stop is touched when x <= peak·factor (its factor
 * folds in distance and tolerance). A new high gives every signal whose peak is below it the
 * same peak, so such signals are merged into one group: a group has one peak and a max-heap
 * (pairing heap, O(1) meld) of its members' factors. Per tick: the groups whose highest level
 * (peak·largest factor) is reached give their touched members; then the groups with a peak
 * below x melt into one group at peak x. (For shorts, the signed peak is negative and the
 * member touched first is the one with the smallest factor: members are ordered by dir·factor.) Each signal is melded O(1) times amortised per
 * group it joins, so a tick costs O((merged groups + delivered) · log n).
 */

/** Wider than the machine's 1e-12 comparison slack (see SymbolBook's LOOSEN). */
const LOOSEN = 4e-12;

interface Member {
  factor: number;
  /**
   * Heap order: the member touched first at a shared peak. For longs (peak > 0) the largest
   * factor; for shorts (signed peak < 0, factor > 1) the smallest. So dir·factor, largest first.
   */
  key: number;
  slot: number;
  ver: number;
  child: Member | null;
  sibling: Member | null;
}

interface Group {
  peak: number;
  top: Member | null;
  alive: boolean;
  /** The level this group was last filed under in `byLevel`. */
  level: number;
}

function meld(a: Member | null, b: Member | null): Member | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.key >= b.key) {
    b.sibling = a.child;
    a.child = b;
    return a;
  }
  a.sibling = b.child;
  b.child = a;
  return b;
}

function popTop(top: Member): Member | null {
  // Two-pass pairing.
  const pairs: Member[] = [];
  let c = top.child;
  while (c !== null) {
    const a = c;
    const b = c.sibling;
    c = b === null ? null : b.sibling;
    a.sibling = null;
    if (b !== null) b.sibling = null;
    pairs.push(meld(a, b)!);
  }
  let root: Member | null = null;
  for (let i = pairs.length - 1; i >= 0; i--) root = meld(root, pairs[i]!);
  return root;
}

/** A binary heap of groups keyed by a number (min-heap; store negatives for max). */
class GroupHeap {
  private keys: number[] = [];
  private items: Group[] = [];
  get size(): number {
    return this.keys.length;
  }
  topKey(): number {
    return this.keys.length === 0 ? Infinity : this.keys[0]!;
  }
  topItem(): Group {
    return this.items[0]!;
  }
  push(key: number, item: Group): void {
    let i = this.keys.length;
    this.keys.push(key);
    this.items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.keys[p]! <= key) break;
      this.keys[i] = this.keys[p]!;
      this.items[i] = this.items[p]!;
      i = p;
    }
    this.keys[i] = key;
    this.items[i] = item;
  }
  pop(): void {
    const key = this.keys.pop()!;
    const item = this.items.pop()!;
    const n = this.keys.length;
    if (n === 0) return;
    let i = 0;
    while (true) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.keys[c + 1]! < this.keys[c]!) c++;
      if (this.keys[c]! >= key) break;
      this.keys[i] = this.keys[c]!;
      this.items[i] = this.items[c]!;
      i = c;
    }
    this.keys[i] = key;
    this.items[i] = item;
  }
}

export class TrailBook {
  private readonly byPeak = new GroupHeap();
  /** Keyed by −level, so the top is the highest level. */
  private readonly byLevel = new GroupHeap();
  private members = 0;

  constructor(
    /** +1 for longs, −1 for shorts. */
    private readonly dir: 1 | -1,
    /** Whether (slot, ver) is still the signal's current registration. */
    private readonly live: (slot: number, ver: number) => boolean,
  ) {}

  get size(): number {
    return this.members;
  }

  /** Registers an active trailing stop; `peak` null means no exit tick yet. */
  add(slot: number, ver: number, peak: number | null, factor: number): void {
    const member: Member = { factor, key: this.dir * factor, slot, ver, child: null, sibling: null };
    const group: Group = {
      peak: peak === null ? -Infinity : this.dir * peak,
      top: member,
      alive: true,
      level: 0,
    };
    this.members++;
    this.byPeak.push(group.peak, group);
    this.file(group);
  }

  /** Adds to `due` every member whose stop the price may touch (x = dir·price). Call before `advance`. */
  collect(price: number, due: (slot: number) => void): void {
    const x = this.dir * price;
    while (this.byLevel.size > 0 && -this.byLevel.topKey() >= x) {
      const group = this.byLevel.topItem();
      const filedAt = -this.byLevel.topKey();
      this.byLevel.pop();
      if (!group.alive || group.level !== filedAt) continue;
      while (group.top !== null) {
        const m = group.top;
        if (!this.live(m.slot, m.ver)) {
          group.top = popTop(m);
          this.members--;
          continue;
        }
        if (reach(group.peak, m.factor) < x) break;
        due(m.slot);
        group.top = popTop(m);
        this.members--;
      }
      if (group.top === null) group.alive = false;
      else this.file(group);
    }
  }

  /** Raises every peak below the price to it, merging those groups. */
  advance(price: number): void {
    const x = this.dir * price;
    if (this.byPeak.size === 0 || this.byPeak.topKey() >= x) return;
    let merged: Member | null = null;
    while (this.byPeak.size > 0 && this.byPeak.topKey() < x) {
      const group = this.byPeak.topItem();
      this.byPeak.pop();
      if (!group.alive) continue;
      group.alive = false;
      merged = meld(merged, group.top);
    }
    if (merged === null) return;
    const group: Group = { peak: x, top: merged, alive: true, level: 0 };
    this.byPeak.push(x, group);
    this.file(group);
  }

  private file(group: Group): void {
    group.level = reach(group.peak, group.top!.factor);
    this.byLevel.push(-group.level, group);
  }
}

/**
 * The x at or below which a member with this factor may be touched, loosened a hair so that
 * rounding never hides a touch: the machine decides exactly, an extra delivery costs nothing.
 */
function reach(peak: number, factor: number): number {
  const level = peak * factor;
  return Number.isFinite(level) ? level + Math.abs(level) * LOOSEN : level;
}
