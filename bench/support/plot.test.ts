import { describe, expect, it } from '@jest/globals';
import { barChart, formatNumber, lineChart, markdownTable, scale } from './plot.ts';

describe('scale', () => {
  it('puts about five round ticks over a linear range that starts at zero', () => {
    const { ticks, at } = scale({ label: 'y' }, [3, 47], 100);
    expect(ticks).toEqual([0, 10, 20, 30, 40, 50]);
    expect(at(0)).toBe(0);
    expect(at(50)).toBe(100);
  });

  it('puts powers of ten on a log axis', () => {
    const { ticks, at } = scale({ label: 'x', log: true }, [1000, 100_000], 200);
    expect(ticks).toEqual([1000, 10_000, 100_000]);
    expect(at(10_000)).toBeCloseTo(100);
  });

  it('honours an axis minimum', () => {
    expect(scale({ label: 'y', min: 0.5 }, [0.6, 1], 10).ticks[0]).toBe(0.5);
  });
});

describe('formatNumber', () => {
  it('shortens thousands and millions to three digits', () => {
    expect([0.25, 12, 1200, 100_000, 2_500_000].map(formatNumber)).toEqual([
      '0.25',
      '12',
      '1.2k',
      '100k',
      '2.5M',
    ]);
  });
});

describe('lineChart', () => {
  it('draws a marker per point and names each series, escaped', () => {
    const svg = lineChart({
      title: 'RSS <MiB>',
      x: { label: 'objects', log: true },
      y: { label: 'MiB' },
      series: [
        {
          name: 'a & b',
          points: [
            [1000, 50],
            [10_000, 52],
            [100_000, 55],
          ],
        },
        {
          name: 'ideal',
          points: [
            [1000, 50],
            [100_000, 50],
          ],
        },
      ],
    });
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect(svg).toContain('a &amp; b');
    expect(svg).toContain('RSS &lt;MiB&gt;');
    expect(svg).not.toContain('NaN');
  });
});

describe('barChart', () => {
  it('draws a bar per entry and a whisker where a range is given', () => {
    const svg = barChart({
      title: 'added latency',
      y: { label: 'ms' },
      bars: [
        { label: 'ring', value: 2, low: 1.8, high: 2.4 },
        { label: 'trivial', value: 1.9 },
      ],
    });
    expect(svg.match(/<rect x=/g)).toHaveLength(2);
    expect(
      svg.match(/<line x1="[\d.]+" x2="[\d.]+" y1="[\d.]+" y2="[\d.]+" stroke="black"\/>/g)?.length,
    ).toBe(3);
    expect(svg).not.toContain('NaN');
  });
});

describe('markdownTable', () => {
  it('right-aligns numeric columns', () => {
    expect(
      markdownTable(
        ['shards', 'name'],
        [
          [1, 'a'],
          [2, 'b'],
        ],
      ),
    ).toBe('| shards | name |\n| ---: | --- |\n| 1 | a |\n| 2 | b |');
  });
});
