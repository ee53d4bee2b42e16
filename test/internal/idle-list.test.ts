import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IdleLinks, IdleList } from '../../src/internal/idle-list.js';

class Item implements IdleLinks<Item> {
  idlePrev: Item | undefined = undefined;
  idleNext: Item | undefined = undefined;
  idleListed = false;
  constructor(readonly id: number) {}
}

const ids = (list: IdleList<Item>): number[] => [...list].map((item) => item.id);

describe('IdleList', () => {
  it('keeps insertion order, least recently added first', () => {
    const list = new IdleList<Item>();
    const [a, b, c] = [new Item(1), new Item(2), new Item(3)];
    list.add(a).add(b).add(c);
    expect(ids(list)).toEqual([1, 2, 3]);
    expect(list.first()).toBe(a);
    expect(list.size).toBe(3);
  });

  it('moves an element to the end when it is deleted and added again', () => {
    const list = new IdleList<Item>();
    const [a, b, c] = [new Item(1), new Item(2), new Item(3)];
    list.add(a).add(b).add(c);
    expect(list.delete(a)).toBe(true);
    list.add(a);
    expect(ids(list)).toEqual([2, 3, 1]);
    expect(list.first()).toBe(b);
  });

  it('ignores add of a listed element and delete of an unlisted one, like a Set', () => {
    const list = new IdleList<Item>();
    const [a, b] = [new Item(1), new Item(2)];
    list.add(a).add(b).add(a);
    expect(ids(list)).toEqual([1, 2]);
    expect(list.size).toBe(2);
    const stranger = new Item(3);
    expect(list.delete(stranger)).toBe(false);
    expect(list.size).toBe(2);
  });

  it('unlinks the head, the tail and a middle element', () => {
    const list = new IdleList<Item>();
    const items = [1, 2, 3, 4, 5].map((id) => new Item(id));
    for (const item of items) list.add(item);
    list.delete(items[0] as Item);
    list.delete(items[4] as Item);
    list.delete(items[2] as Item);
    expect(ids(list)).toEqual([2, 4]);
    expect(list.first()?.id).toBe(2);
    list.delete(items[1] as Item);
    list.delete(items[3] as Item);
    expect(list.size).toBe(0);
    expect(list.first()).toBeUndefined();
    expect(ids(list)).toEqual([]);
  });

  it('lets the loop body delete the element just yielded', () => {
    const list = new IdleList<Item>();
    const items = [1, 2, 3, 4].map((id) => new Item(id));
    for (const item of items) list.add(item);
    const seen: number[] = [];
    for (const item of list) {
      seen.push(item.id);
      if (item.id % 2 === 1) list.delete(item);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(ids(list)).toEqual([2, 4]);
  });

  it('clear() empties the list and resets every element', () => {
    const list = new IdleList<Item>();
    const items = [1, 2, 3].map((id) => new Item(id));
    for (const item of items) list.add(item);
    list.clear();
    expect(list.size).toBe(0);
    expect(ids(list)).toEqual([]);
    for (const item of items) {
      expect(item.idleListed).toBe(false);
      expect(item.idlePrev).toBeUndefined();
      expect(item.idleNext).toBeUndefined();
    }
    list.add(items[1] as Item);
    expect(ids(list)).toEqual([2]);
  });

  it('behaves like a Set under any sequence of add and delete', () => {
    const op = fc.record({ add: fc.boolean(), id: fc.integer({ min: 0, max: 7 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const items = Array.from({ length: 8 }, (_, id) => new Item(id));
        const list = new IdleList<Item>();
        const model = new Set<Item>();
        for (const { add, id } of ops) {
          const item = items[id] as Item;
          if (add) {
            list.add(item);
            model.add(item);
          } else {
            expect(list.delete(item)).toBe(model.delete(item));
          }
          expect(list.size).toBe(model.size);
          expect(list.first()).toBe(model.values().next().value);
          expect(list.has(item)).toBe(model.has(item));
        }
        expect([...list]).toEqual([...model]);
      }),
    );
  });
});
