import { describe, expect, it } from '@jest/globals';
import { murmur3, murmur3Word } from './murmur3.ts';

describe('murmur3', () => {
  // Published MurmurHash3 x86_32 vectors: the ring's assignments rest on exactly this function.
  it.each([
    ['', 0, 0x00000000],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['aa', 0x9747b28c, 0x5d211726],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('hashes %j with seed %d to %d', (text, seed, hash) => {
    expect(murmur3(text, seed)).toBe(hash);
  });

  it('hashes texts longer than its scratch buffer', () => {
    const long = 'x'.repeat(1000);
    expect(murmur3(long)).toBe(murmur3(long));
    expect(murmur3(long)).not.toBe(murmur3(long.slice(1)));
  });

  it('hashes a word as its 4 little-endian bytes', () => {
    // 'abcd' is 0x64636261 read little-endian.
    expect(murmur3Word(0x64636261, 0)).toBe(murmur3('abcd'));
    expect(murmur3Word(0x64636261, 0x9747b28c)).toBe(murmur3('abcd', 0x9747b28c));
  });
});
