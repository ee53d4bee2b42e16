/**
 * An intrusive, insertion-ordered list for the registry's idle sessions.
 *
 * Why not a `Set`: the hit path removes a session from the idle set on
 * acquire and appends it again on release. V8's ordered hash tables keep a
 * deleted entry in its bucket chain until the next rehash, so deleting and
 * re-adding the same element over and over grows that chain, and every add
 * walks it: with 100k idle sessions one busy session costs tens of
 * microseconds per acquire + release (see `bench/`, P4). Links stored on the
 * element make both operations O(1) with no hashing and no allocation.
 *
 * @module
 */

/** The links an element carries to be in (at most) one {@link IdleList}. Initialise them to `undefined` and `false`. */
export interface IdleLinks<T> {
  idlePrev: T | undefined;
  idleNext: T | undefined;
  /** True while the element is in a list. */
  idleListed: boolean;
}

/**
 * Elements in the order they were added (least recently added first), with
 * O(1) `add`, `delete`, `has` and `first`. Drop-in for the `Set` operations the
 * registry uses: `add` of an element already listed changes nothing, like
 * `Set.prototype.add`.
 *
 * An element can be in one list at a time (the links live on the element).
 * Iteration tolerates deleting the element just yielded, not others.
 *
 * @example
 * ```ts
 * class Item implements IdleLinks<Item> {
 *   idlePrev: Item | undefined = undefined;
 *   idleNext: Item | undefined = undefined;
 *   idleListed = false;
 * }
 * const idle = new IdleList<Item>();
 * const a = new Item();
 * idle.add(a);
 * idle.first(); // a
 * idle.delete(a); // true
 * ```
 */
export class IdleList<T extends IdleLinks<T>> {
  #head: T | undefined = undefined;
  #tail: T | undefined = undefined;
  #size = 0;

  /** Elements in the list. */
  get size(): number {
    return this.#size;
  }

  /** True when `item` is in a list (this one, if it is only ever added here). */
  has(item: T): boolean {
    return item.idleListed;
  }

  /** Appends `item` at the most recently added end; does nothing when it is already listed. */
  add(item: T): this {
    if (item.idleListed) return this;
    item.idleListed = true;
    item.idlePrev = this.#tail;
    item.idleNext = undefined;
    if (this.#tail === undefined) this.#head = item;
    else this.#tail.idleNext = item;
    this.#tail = item;
    this.#size++;
    return this;
  }

  /** Removes `item`; returns whether it was listed. */
  delete(item: T): boolean {
    if (!item.idleListed) return false;
    const prev = item.idlePrev;
    const next = item.idleNext;
    if (prev === undefined) this.#head = next;
    else prev.idleNext = next;
    if (next === undefined) this.#tail = prev;
    else next.idlePrev = prev;
    item.idlePrev = undefined;
    item.idleNext = undefined;
    item.idleListed = false;
    this.#size--;
    return true;
  }

  /** The least recently added element, or `undefined` when empty. */
  first(): T | undefined {
    return this.#head;
  }

  /** Removes every element. O(size): each element's links are reset. */
  clear(): void {
    let item = this.#head;
    while (item !== undefined) {
      const next = item.idleNext;
      item.idlePrev = undefined;
      item.idleNext = undefined;
      item.idleListed = false;
      item = next;
    }
    this.#head = undefined;
    this.#tail = undefined;
    this.#size = 0;
  }

  /** Least recently added first. Deleting the element just yielded is safe. */
  *[Symbol.iterator](): IterableIterator<T> {
    let item = this.#head;
    while (item !== undefined) {
      const next = item.idleNext;
      yield item;
      item = next;
    }
  }
}
