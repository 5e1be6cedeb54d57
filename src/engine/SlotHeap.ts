/**
 * A binary min-heap of (key, slot, version) in typed arrays: 16 bytes an entry, no objects.
 * Entries are never removed from the middle: a signal's entries go stale when its slot's
 * version moves on, and are dropped when they reach the top (or at compaction).
 */
export class SlotHeap {
  private keys: Float64Array;
  private slots: Int32Array;
  private vers: Uint32Array;
  size = 0;

  constructor(capacity = 64) {
    this.keys = new Float64Array(capacity);
    this.slots = new Int32Array(capacity);
    this.vers = new Uint32Array(capacity);
  }

  push(key: number, slot: number, ver: number): void {
    if (this.size === this.keys.length) this.grow();
    let i = this.size++;
    const keys = this.keys;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      this.move(parent, i);
      i = parent;
    }
    keys[i] = key;
    this.slots[i] = slot;
    this.vers[i] = ver;
  }

  /** The smallest key, or +Infinity when empty. */
  topKey(): number {
    return this.size === 0 ? Infinity : this.keys[0]!;
  }
  topSlot(): number {
    return this.slots[0]!;
  }
  topVer(): number {
    return this.vers[0]!;
  }

  pop(): void {
    const last = --this.size;
    if (last === 0) return;
    const key = this.keys[last]!;
    const slot = this.slots[last]!;
    const ver = this.vers[last]!;
    const keys = this.keys;
    let i = 0;
    const half = last >> 1;
    while (i < half) {
      let child = 2 * i + 1;
      const right = child + 1;
      if (right < last && keys[right]! < keys[child]!) child = right;
      if (keys[child]! >= key) break;
      this.move(child, i);
      i = child;
    }
    keys[i] = key;
    this.slots[i] = slot;
    this.vers[i] = ver;
  }

  /** Drops every entry for which `live(slot, ver)` is false, then restores the heap order. */
  compact(live: (slot: number, ver: number) => boolean): void {
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      if (!live(this.slots[i]!, this.vers[i]!)) continue;
      this.keys[n] = this.keys[i]!;
      this.slots[n] = this.slots[i]!;
      this.vers[n] = this.vers[i]!;
      n++;
    }
    const entries = n;
    this.size = 0;
    const keys = this.keys.slice(0, entries);
    const slots = this.slots.slice(0, entries);
    const vers = this.vers.slice(0, entries);
    for (let i = 0; i < entries; i++) this.push(keys[i]!, slots[i]!, vers[i]!);
  }

  private move(from: number, to: number): void {
    this.keys[to] = this.keys[from]!;
    this.slots[to] = this.slots[from]!;
    this.vers[to] = this.vers[from]!;
  }

  private grow(): void {
    const cap = this.keys.length * 2;
    const keys = new Float64Array(cap);
    keys.set(this.keys);
    const slots = new Int32Array(cap);
    slots.set(this.slots);
    const vers = new Uint32Array(cap);
    vers.set(this.vers);
    this.keys = keys;
    this.slots = slots;
    this.vers = vers;
  }
}
