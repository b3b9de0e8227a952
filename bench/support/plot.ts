// The benchmarks' figures: small SVG line and bar charts written next to docs/performance.md, so that a rerun
// regenerates the figures with the tables. Hand-written because a chart of a few series needs axes, ticks and
// a legend only; the plotting libraries on npm bring a DOM or a browser with them.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Axis {
  label: string;
  log?: boolean;
  min?: number;
  max?: number;
}

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LineChart {
  title: string;
  x: Axis;
  y: Axis;
  series: readonly Series[];
}

/** One bar; low and high, when given, draw a range (the min..max of the runs) over it. */
export interface Bar {
  label: string;
  value: number;
  low?: number;
  high?: number;
}

export interface BarChart {
  title: string;
  y: Axis;
  bars: readonly Bar[];
}

const width = 640;
const height = 360;
const margin = { top: 36, right: 16, bottom: 52, left: 72 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;
// Distinguishable for the common kinds of colour blindness (Okabe and Ito's palette).
const colours = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];

const escape = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** 1200 → "1.2k", 100000 → "100k", 0.25 → "0.25". */
export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  const short = (scaled: number): string => String(Number(scaled.toPrecision(3)));
  if (magnitude >= 1e6) return `${short(value / 1e6)}M`;
  if (magnitude >= 1e3) return `${short(value / 1e3)}k`;
  return short(value);
}

interface Scale {
  at: (value: number) => number;
  ticks: number[];
}

/** Maps [min, max] onto [0, length] with about five round ticks (1, 2 or 5 × 10^k apart, or powers of ten). */
export function scale(axis: Axis, values: readonly number[], length: number): Scale {
  const finite = values.filter(Number.isFinite);
  if (axis.log === true) {
    const low = Math.log10(axis.min ?? Math.min(...finite));
    const high = Math.log10(axis.max ?? Math.max(...finite));
    const from = Math.floor(low);
    const to = Math.ceil(high);
    const ticks: number[] = [];
    for (let power = from; power <= to; power++) ticks.push(10 ** power);
    const span = to - from || 1;
    return { at: (value) => ((Math.log10(value) - from) / span) * length, ticks };
  }
  const low = axis.min ?? Math.min(0, ...finite);
  const high = axis.max ?? Math.max(...finite);
  const raw = (high - low) / 5 || 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw) ?? raw;
  const from = Math.floor(low / step) * step;
  const to = Math.ceil(high / step) * step;
  const ticks: number[] = [];
  for (let tick = from; tick <= to + step / 2; tick += step) ticks.push(Number(tick.toPrecision(12)));
  const span = to - from || 1;
  return { at: (value) => ((value - from) / span) * length, ticks };
}

function frame(title: string, xLabel: string, y: Axis, yScale: Scale, body: string[]): string {
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<g transform="translate(${margin.left},${margin.top})">`,
  ];
  for (const tick of yScale.ticks) {
    const ty = plotHeight - yScale.at(tick);
    lines.push(
      `<line x1="0" x2="${plotWidth}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="-6" y="${ty + 4}" text-anchor="end">${formatNumber(tick)}</text>`,
    );
  }
  lines.push(
    ...body,
    `<line x1="0" x2="0" y1="0" y2="${plotHeight}" stroke="black"/>`,
    `<line x1="0" x2="${plotWidth}" y1="${plotHeight}" y2="${plotHeight}" stroke="black"/>`,
    `<text x="${plotWidth / 2}" y="${plotHeight + 40}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text transform="translate(-56,${plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(y.label)}</text>`,
    '</g>',
    '</svg>',
    '',
  );
  return lines.join('\n');
}

/** An SVG document with one polyline and its markers per series, and a legend at the top left. */
export function lineChart(chart: LineChart): string {
  const points = chart.series.flatMap((series) => series.points);
  const xScale = scale(
    chart.x,
    points.map(([x]) => x),
    plotWidth,
  );
  const yScale = scale(
    chart.y,
    points.map(([, y]) => y),
    plotHeight,
  );
  const position = ([x, y]: readonly [number, number]): string =>
    `${xScale.at(x).toFixed(1)},${(plotHeight - yScale.at(y)).toFixed(1)}`;
  const body: string[] = [];
  for (const tick of xScale.ticks) {
    const tx = xScale.at(tick);
    body.push(
      `<line x1="${tx}" x2="${tx}" y1="${plotHeight}" y2="${plotHeight + 5}" stroke="black"/>`,
      `<text x="${tx}" y="${plotHeight + 18}" text-anchor="middle">${formatNumber(tick)}</text>`,
    );
  }
  chart.series.forEach((series, index) => {
    const colour = colours[index % colours.length];
    body.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${series.points.map(position).join(' ')}"/>`,
      ...series.points.map((point) => {
        const [cx, cy] = position(point).split(',');
        return `<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}"/>`;
      }),
      `<rect x="10" y="${8 + index * 16}" width="12" height="3" fill="${colour}"/>`,
      `<text x="28" y="${13 + index * 16}">${escape(series.name)}</text>`,
    );
  });
  return frame(chart.title, chart.x.label, chart.y, yScale, body);
}

/** An SVG document with one bar per entry, its value above it and its range as a whisker. */
export function barChart(chart: BarChart): string {
  const values = chart.bars.flatMap((bar) => [bar.value, bar.low ?? bar.value, bar.high ?? bar.value]);
  const yScale = scale(chart.y, values, plotHeight);
  const slot = plotWidth / Math.max(chart.bars.length, 1);
  const body = chart.bars.flatMap((bar, index) => {
    const left = index * slot + slot * 0.2;
    const top = plotHeight - yScale.at(bar.value);
    const centre = left + slot * 0.3;
    const whisker =
      bar.low === undefined || bar.high === undefined
        ? []
        : [
            `<line x1="${centre}" x2="${centre}" y1="${plotHeight - yScale.at(bar.low)}" y2="${plotHeight - yScale.at(bar.high)}" stroke="black"/>`,
          ];
    return [
      `<rect x="${left}" y="${top}" width="${slot * 0.6}" height="${plotHeight - top}" fill="${colours[index % colours.length]}"/>`,
      ...whisker,
      `<text x="${centre}" y="${plotHeight - yScale.at(Math.max(bar.value, bar.high ?? bar.value)) - 4}" text-anchor="middle">${formatNumber(bar.value)}</text>`,
      `<text x="${centre}" y="${plotHeight + 18}" text-anchor="middle">${escape(bar.label)}</text>`,
    ];
  });
  return frame(chart.title, '', chart.y, yScale, body);
}

const docs = fileURLToPath(new URL('../../docs/', import.meta.url));

/** Writes docs/performance/<name>.svg; returns its path relative to docs/, as docs/performance.md links it. */
export async function writeFigure(name: string, svg: string): Promise<string> {
  const relative = `performance/${name}.svg`;
  const path = join(docs, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, svg);
  return relative;
}

/** A GitHub-flavoured markdown table; numbers are right-aligned. */
export function markdownTable(
  header: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
): string {
  const numeric = header.map((_, column) => rows.every((row) => typeof row[column] === 'number'));
  const line = (cells: ReadonlyArray<string | number>): string => `| ${cells.map(String).join(' | ')} |`;
  return [
    line(header),
    line(numeric.map((right) => (right ? '---:' : '---'))),
    ...rows.map((row) => line(row)),
  ].join('\n');
}
