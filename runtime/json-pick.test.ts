import { describe, expect, it } from '@jest/globals';
import { pick, unfit, type Shape } from './json-pick.ts';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');
const scalar: Shape = { keep: [] };
const everything: Shape = { keep: ['object', 'object', 'object', 'object'] };

describe('pick checks syntax as JSON.parse does', () => {
  const valid = [
    '0',
    '-0',
    '12.5e-3',
    '1E+2',
    '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00"',
    '"é 😀"',
    'true',
    'false',
    'null',
    ' \t\r\n[ 1 , "2" , [ ] , { } ] \n',
    '{"a":{"b":[{"c":null}]},"a":1}',
    '[[[[[[[[[[]]]]]]]]]]',
  ];
  const invalid = [
    '',
    ' ',
    '01',
    '-',
    '1.',
    '.5',
    '1e',
    '+1',
    '"abc',
    '"a\nb"',
    '"\\x"',
    '"\\u12g4"',
    'tru',
    'nul',
    'True',
    '[1,]',
    '[1 2]',
    '{"a":1,}',
    '{"a" 1}',
    '{a:1}',
    "{'a':1}",
    '{"a":1]',
    '[1}',
    '[[[]]',
    '[]]',
    '1 2',
    '{"a":1}x',
    'NaN',
  ];
  it.each(valid)('accepts %j', (text) => {
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    for (const shape of [
      scalar,
      everything,
      { members: { a: scalar } },
      { each: { members: { a: scalar } } },
    ]) {
      expect(pick(bytes(text), shape)).not.toHaveProperty('error');
    }
  });
  it.each(invalid)('refuses %j, saying where', (text) => {
    expect(() => JSON.parse(text) as unknown).toThrow();
    for (const shape of [
      scalar,
      everything,
      { members: { a: scalar } },
      { each: { members: { a: scalar } } },
    ]) {
      expect(pick(bytes(text), shape)).toEqual({ error: expect.stringMatching(/byte \d+|the text ends/) });
    }
  });
  it('names the byte and what was expected', () => {
    expect(pick(bytes('{"a":[1,}'), scalar)).toEqual({
      error: "'}' at byte 8 where a value was expected",
    });
    expect(pick(bytes('{"a":'), scalar)).toEqual({ error: 'the text ends where a value was expected' });
  });
});

describe('pick keeps what its shape names', () => {
  const shape: Shape = {
    members: {
      name: scalar,
      labels: { keep: ['object'] },
      owners: { keep: ['array', 'object'] },
      nested: { members: { leaf: scalar } },
    },
  };

  it('parses the kept members and leaves out the others', () => {
    const document = {
      spec: { deep: [[{ x: 1 }]] },
      name: 'n',
      labels: { a: 'b', c: 1 },
      owners: [{ kind: 'K', controller: true }, {}],
      nested: { leaf: 'é', other: [1, 2] },
      after: 'x',
    };
    expect(pick(bytes(JSON.stringify(document)), shape)).toEqual({
      value: {
        name: 'n',
        labels: { a: 'b', c: 1 },
        owners: [{ kind: 'K', controller: true }, {}],
        nested: { leaf: 'é' },
      },
    });
  });

  it('keeps a scalar where an object is picked, and the root when it is no object', () => {
    expect(pick(bytes('{"nested":"flat"}'), shape)).toEqual({ value: { nested: 'flat' } });
    expect(pick(bytes('"text"'), shape)).toEqual({ value: 'text' });
    expect(pick(bytes('[1]'), shape)).toEqual({ value: unfit });
  });

  it.each([
    ['a container where a scalar is kept', '{"name":{"first":"a"}}', 'name'],
    ['an array where an object of scalars is kept', '{"labels":["a"]}', 'labels'],
    ['nesting deeper than kept', '{"labels":{"a":{"b":"c"}}}', 'labels'],
    ['an object where an array is kept', '{"owners":{"a":{}}}', 'owners'],
    ['an array of arrays where an array of objects is kept', '{"owners":[[]]}', 'owners'],
    ['an array where an object is picked', '{"nested":[{"leaf":1}]}', 'nested'],
  ])('marks %s as unfit without building it', (_, text, member) => {
    expect(pick(bytes(text), shape)).toEqual({ value: { [member]: unfit } });
  });

  it('matches member names written with escapes, and keeps the last of duplicate members as JSON.parse does', () => {
    expect(
      pick(bytes('{"n\\u0061me":"escaped","name":"first","nested":{"leaf":1},"name":"last"}'), shape),
    ).toEqual({
      value: { name: 'last', nested: { leaf: 1 } },
    });
    expect(pick(bytes('{"nested":{"leaf":1},"nested":{}}'), shape)).toEqual({ value: { nested: {} } });
  });

  it('reads a plain Uint8Array view into a larger buffer as it reads a Buffer', () => {
    const text = '{"name":"é\\u00e9","labels":{"a":"b"}}';
    const backing = new Uint8Array(Buffer.from(`xx${text}yy`));
    const view = backing.subarray(2, 2 + Buffer.byteLength(text));
    expect(Buffer.isBuffer(view)).toBe(false);
    expect(pick(view, shape)).toEqual({ value: { name: 'éé', labels: { a: 'b' } } });
  });

  it('decodes a kept string that is not valid UTF-8 with replacement characters', () => {
    const text = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff]), Buffer.from('b"}')]);
    expect(pick(text, shape)).toEqual({ value: { name: 'a\ufffdb' } });
  });

  it('does not take inherited names for members', () => {
    expect(pick(bytes('{"constructor":1,"__proto__":{"name":"x"},"toString":2}'), shape)).toEqual({
      value: {},
    });
  });

  describe('each element of an array', () => {
    const items: Shape = {
      members: {
        items: { each: { members: { name: scalar, labels: { keep: ['object'] } } } },
        grid: { each: { each: scalar } },
      },
    };

    it('picks every element with its shape, in order', () => {
      const document = {
        items: [{ name: 'a', spec: [1], labels: { x: 'y' } }, { name: 'b' }, {}],
        grid: [[1, 'two'], [], [null]],
      };
      expect(pick(bytes(JSON.stringify(document)), items)).toEqual({
        value: {
          items: [{ name: 'a', labels: { x: 'y' } }, { name: 'b' }, {}],
          grid: [[1, 'two'], [], [null]],
        },
      });
    });

    it('keeps an empty array empty, with or without whitespace', () => {
      expect(pick(bytes('{"items":[],"grid":[ \n ]}'), items)).toEqual({ value: { items: [], grid: [] } });
    });

    it('keeps a scalar where an array is picked, and marks an object or an unfit element as unfit', () => {
      expect(pick(bytes('{"items":null,"grid":"flat"}'), items)).toEqual({
        value: { items: null, grid: 'flat' },
      });
      expect(pick(bytes('{"items":{"0":{"name":"a"}}}'), items)).toEqual({ value: { items: unfit } });
      expect(pick(bytes('{"items":[[{"name":"a"}],"s",{"labels":[1]}]}'), items)).toEqual({
        value: { items: [unfit, 's', { labels: unfit }] },
      });
      expect(pick(bytes('{"grid":[[{}],[1,[]]]}'), items)).toEqual({
        value: { grid: [[unfit], [1, unfit]] },
      });
    });

    it('picks the root when it is an array, and nothing of an array that is not picked', () => {
      expect(
        pick(bytes('[{"name":"a","x":1},{"name":"b"}]'), { each: { members: { name: scalar } } }),
      ).toEqual({
        value: [{ name: 'a' }, { name: 'b' }],
      });
      expect(pick(bytes('{"other":[{"name":"a"}],"items":[{"name":"b"}]}'), items)).toEqual({
        value: { items: [{ name: 'b' }] },
      });
    });

    it.each([
      '{"items":[{"name":"a"},]}',
      '{"items":[{"name":"a"} {"name":"b"}]}',
      '{"items":[{"name":"a"}}',
      '{"items":[',
      '{"grid":[[1],[2]]',
    ])('still refuses %j, saying where', (text) => {
      expect(pick(bytes(text), items)).toEqual({ error: expect.stringMatching(/byte \d+|the text ends/) });
    });
  });

  it('skips a million nested arrays and still picks the members around them', () => {
    const depth = 1_000_000;
    const text = `{"name":"before","spec":${'['.repeat(depth)}${']'.repeat(depth)},"labels":{"a":"b"}}`;
    expect(pick(bytes(text), shape)).toEqual({ value: { name: 'before', labels: { a: 'b' } } });
    expect(pick(bytes(text.slice(0, -3)), shape)).toHaveProperty('error');
  });
});
