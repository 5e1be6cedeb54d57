import { describe, expect, it } from 'vitest';
import { isBullmqJobId } from '../../src/names.ts';

/** BullMQ's own check on custom ids (Job.validateOptions): these it refuses as "integers". */
const refusedAsCustom = (id: string): boolean => `${parseInt(id, 10)}` === id;

describe('isBullmqJobId', () => {
  it("takes for BullMQ's own exactly the ids BullMQ refuses from producers, so no custom id compares by value", () => {
    const ids = [
      '1',
      '42',
      '9007199254740991',
      '0099',
      '0',
      '12345678901234567891',
      '1e20',
      '-1',
      '+1',
      'a1',
      '',
    ];
    expect(ids.filter(isBullmqJobId)).toEqual(['1', '42', '9007199254740991', '0']);
    for (const id of ids.filter((i) => /^[0-9]+$/.test(i)))
      expect(isBullmqJobId(id), `${id}: BullMQ's own iff refused as a custom id`).toBe(refusedAsCustom(id));
  });
});
