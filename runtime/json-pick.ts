// Reads only the parts of a JSON text that its reader needs. JSON.parse builds every value of a document, and
// a value costs far more as JavaScript than as text: each `[]` (2 bytes) becomes an array on the heap, so a few
// megabytes of nested arrays cost some 150 MB and seconds of the event loop. pick() checks the syntax of the
// whole text in one pass, without recursion (depth costs a byte of stack per level), and builds nothing but
// the values its shape keeps, each parsed by JSON.parse from its own slice of the text. Strings are not checked
// to be valid UTF-8; a kept one is decoded with replacement characters, as Buffer#toString would.

export type ContainerType = 'object' | 'array';

/** What to keep of a JSON value. */
export type Shape =
  /**
   * The value, parsed, if it fits: a scalar (string, number, boolean, null), or containers of these types
   * from the outside in, holding scalars at the innermost level: `[]` only a scalar, `['object']` an object
   * of scalars, `['array', 'object']` an array of such objects. A value that does not fit is not built.
   */
  | { readonly keep: readonly ContainerType[] }
  /** An object: these of its members (a member not in the text stays absent). A scalar is kept as it is. */
  | { readonly members: Readonly<Record<string, Shape>> }
  /** An array: each of its elements, picked with this shape. A scalar is kept as it is. */
  | { readonly each: Shape };

/** Stands for a value that does not fit its shape: it was checked, but not built. */
export const unfit: unique symbol = Symbol('a JSON value that does not fit its shape');

/** The picked value, or why the text is not JSON. */
export type Picked = { readonly value: unknown } | { readonly error: string };

const objectType = 1;
const arrayType = 2;
const containerTypes = { object: objectType, array: arrayType } as const;

const quote = 0x22;
const backslash = 0x5c;
const comma = 0x2c;
const colon = 0x3a;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;

class JsonSyntaxError extends Error {}

/** Where picked values go: an object's members by name, an array's elements by index. */
type Target = Record<string | number, unknown>;

/**
 * An object whose members are picked, with the member names as bytes to compare keys without decoding them, or
 * an array whose elements are. One type for both, so that the loop reads one kind of object.
 */
interface PickedContainer {
  /** The object's picked members; none for an array. */
  readonly names: readonly { readonly bytes: Uint8Array; readonly name: string; readonly shape: Shape }[];
  /** The array's elements' shape; undefined for an object. */
  readonly each: Shape | undefined;
  readonly target: Target;
  /** The array's elements so far. */
  length: number;
}

/** A value that is being kept: where it starts and what it may contain. */
interface KeptValue {
  readonly start: number;
  /** The depth of the container holding it. */
  readonly depth: number;
  readonly containers: readonly number[];
  readonly target: Target;
  readonly name: string | number;
  fits: boolean;
}

const encoder = new TextEncoder();
const namesOf = new WeakMap<Readonly<Record<string, Shape>>, PickedContainer['names']>();
const noNames: PickedContainer['names'] = [];
const containersOf = new WeakMap<Shape, readonly number[]>();
const noContainers: readonly number[] = [];

function memberNames(members: Readonly<Record<string, Shape>>): PickedContainer['names'] {
  let names = namesOf.get(members);
  if (names === undefined) {
    names = Object.entries(members).map(([name, shape]) => ({ bytes: encoder.encode(name), name, shape }));
    namesOf.set(members, names);
  }
  return names;
}

/** The container types a kept value may hold, as numbers. */
function keptContainers(shape: Shape): readonly number[] {
  if (!('keep' in shape)) return noContainers;
  let containers = containersOf.get(shape);
  if (containers === undefined) {
    containers = shape.keep.map((type) => containerTypes[type]);
    containersOf.set(shape, containers);
  }
  return containers;
}

/** Checks that `text` is one JSON value and returns what `shape` keeps of it. */
export function pick(text: Uint8Array, shape: Shape): Picked {
  // A Buffer over the same bytes: its toString decodes a slice without copying it to a view first.
  const buffer = Buffer.isBuffer(text) ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  try {
    return { value: pickValue(buffer, shape) };
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { error: error.message };
    throw error;
  }
}

/** Where a value with a shape goes. */
interface Destination {
  readonly shape: Shape;
  readonly target: Target;
  readonly name: string | number;
}

// One loop with its state in local variables, and helpers that take and return the position: it runs once
// per value of a text of megabytes.
function pickValue(text: Buffer, shape: Shape): unknown {
  const root: Target = {};
  let i = 0;
  /** The open containers' types: stack[d] for the container at depth d (1 is the outermost). */
  let stack = new Uint8Array(64);
  let depth = 0;
  /** The picked containers, the outermost ones: picked[d - 1] is the container at depth d. */
  const picked: PickedContainer[] = [];
  let kept: KeptValue | undefined;
  // The shape of the next value and where it goes; undefined: the value is skipped.
  let next: Destination | undefined = { shape, target: root, name: 'value' };
  // Whether a member's name comes before the next value; every way back to the loop's top sets it.
  let member = false;
  for (;;) {
    i = skipWhitespace(text, i);
    if (member) {
      if (text[i] !== quote) throw unexpected(text, i, 'a member name');
      const nameStart = i;
      i = skipString(text, i);
      const object = picked.length === depth ? picked[depth - 1] : undefined;
      if (object !== undefined) next = destination(object, text, nameStart + 1, i - 1);
      i = skipWhitespace(text, i);
      if (text[i] !== colon) throw unexpected(text, i, 'a colon');
      i = skipWhitespace(text, i + 1);
    } else {
      // An element of an array: picked if the array is (picked[depth - 1] is the open container if it is picked).
      const array = picked[depth - 1];
      if (array?.each !== undefined) next = { shape: array.each, target: array.target, name: array.length++ };
    }
    // A value starts here.
    const c = text[i];
    if (next !== undefined) {
      if ('members' in next.shape && c === openBrace) {
        const object = {};
        next.target[next.name] = object;
        // The container at the next depth, which opens below.
        picked.push({ names: memberNames(next.shape.members), each: undefined, target: object, length: 0 });
      } else if ('each' in next.shape && c === openBracket) {
        const array: unknown[] = [];
        next.target[next.name] = array;
        // An array is a Target whose names are its indexes.
        picked.push({ names: noNames, each: next.shape.each, target: array as unknown as Target, length: 0 });
      } else {
        const containers = keptContainers(next.shape);
        kept = { start: i, depth, containers, target: next.target, name: next.name, fits: true };
      }
      next = undefined;
    }
    if (c === openBrace || c === openBracket) {
      const type = c === openBrace ? objectType : arrayType;
      if (++depth === stack.length) {
        const grown = new Uint8Array(stack.length * 2);
        grown.set(stack);
        stack = grown;
      }
      stack[depth] = type;
      if (kept !== undefined && kept.containers[depth - kept.depth - 1] !== type) kept.fits = false;
      i = skipWhitespace(text, i + 1);
      if (text[i] !== (type === objectType ? closeBrace : closeBracket)) {
        member = type === objectType;
        continue;
      }
      i++;
      if (picked.length === depth) picked.pop();
      depth--;
    } else if (c === quote) {
      i = skipString(text, i);
    } else if (c === 0x2d || isDigit(c)) {
      i = skipNumber(text, i);
    } else if (c === 0x74) {
      i = skipLiteral(text, i, 'true');
    } else if (c === 0x66) {
      i = skipLiteral(text, i, 'false');
    } else if (c === 0x6e) {
      i = skipLiteral(text, i, 'null');
    } else {
      throw unexpected(text, i, 'a value');
    }
    // A value ended here: the containers it closes end too, until one goes on with a comma.
    for (;;) {
      if (kept?.depth === depth) {
        kept.target[kept.name] = kept.fits ? keptValue(text, kept.start, i) : unfit;
        kept = undefined;
      }
      i = skipWhitespace(text, i);
      if (depth === 0) {
        if (i < text.length) throw unexpected(text, i, 'the end of the text');
        return root.value;
      }
      const c = text[i];
      if (c === comma) {
        i++;
        member = stack[depth] === objectType;
        break;
      }
      if (c !== (stack[depth] === objectType ? closeBrace : closeBracket)) {
        throw unexpected(text, i, 'a comma or the end of the container');
      }
      i++;
      if (picked.length === depth) picked.pop();
      depth--;
    }
  }
}

/**
 * Where the member whose name is text[start, end) (inside its quotes) of a picked object goes, if it is
 * picked.
 */
function destination(
  object: PickedContainer,
  text: Buffer,
  start: number,
  end: number,
): Destination | undefined {
  // A name with escapes is rare: decode it. Others are compared as bytes in place, which allocates nothing.
  const escaped = hasBackslash(text, start, end)
    ? (JSON.parse(text.toString('utf8', start - 1, end + 1)) as string)
    : undefined;
  for (const { bytes, name, shape } of object.names) {
    if (escaped === undefined ? sameBytes(text, start, end, bytes) : escaped === name) {
      return { shape, target: object.target, name };
    }
  }
  return undefined;
}

/** The kept value text[start, end), which is valid JSON. A string without escapes needs no JSON.parse. */
function keptValue(text: Buffer, start: number, end: number): unknown {
  if (text[start] === quote && !hasBackslash(text, start + 1, end - 1)) {
    return text.toString('utf8', start + 1, end - 1);
  }
  return JSON.parse(text.toString('utf8', start, end));
}

function hasBackslash(text: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (text[k] === backslash) return true;
  return false;
}

// Reads in bounds only: one read past the end would make V8 compile every read of the text more slowly.
function skipWhitespace(text: Uint8Array, i: number): number {
  for (; i < text.length; i++) {
    const c = text[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
  }
  return i;
}

/** The position after the string starting at `i`. */
function skipString(text: Uint8Array, i: number): number {
  for (i++; ; i++) {
    const c = text[i];
    if (c === quote) return i + 1;
    if (c === undefined) throw unexpected(text, i, 'the end of the string');
    if (c < 0x20) throw unexpected(text, i, 'a character of a string (control characters must be escaped)');
    if (c === backslash) {
      const escape = text[++i];
      if (escape === 0x75) {
        for (let k = 0; k < 4; k++) {
          if (!isHexDigit(text[++i])) throw unexpected(text, i, 'a hexadecimal digit of a \\u escape');
        }
      } else if (escape === undefined || !simpleEscapes.has(escape)) {
        throw unexpected(text, i, 'an escape character');
      }
    }
  }
}

/** The position after the number starting at `i`. */
function skipNumber(text: Uint8Array, i: number): number {
  if (text[i] === 0x2d) i++;
  if (text[i] === 0x30) i++;
  else if (isDigit(text[i])) while (isDigit(text[++i]));
  else throw unexpected(text, i, 'a digit');
  if (text[i] === 0x2e) {
    if (!isDigit(text[++i])) throw unexpected(text, i, 'a digit after the decimal point');
    while (isDigit(text[++i]));
  }
  if (text[i] === 0x65 || text[i] === 0x45) {
    i++;
    if (text[i] === 0x2b || text[i] === 0x2d) i++;
    if (!isDigit(text[i])) throw unexpected(text, i, 'a digit of the exponent');
    while (isDigit(text[++i]));
  }
  return i;
}

function skipLiteral(text: Uint8Array, i: number, literal: string): number {
  for (let k = 0; k < literal.length; k++) {
    if (text[i + k] !== literal.charCodeAt(k)) throw unexpected(text, i + k, literal);
  }
  return i + literal.length;
}

function unexpected(text: Uint8Array, i: number, expected: string): JsonSyntaxError {
  const c = text[i];
  if (c === undefined) return new JsonSyntaxError(`the text ends where ${expected} was expected`);
  const found = c >= 0x21 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16)}`;
  return new JsonSyntaxError(`${found} at byte ${i} where ${expected} was expected`);
}

// ", \, /, b, f, n, r, t
const simpleEscapes: ReadonlySet<number> = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number | undefined): boolean {
  return c !== undefined && (isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

/** Whether text[start, end) holds the bytes of `b`. */
function sameBytes(text: Uint8Array, start: number, end: number, b: Uint8Array): boolean {
  if (end - start !== b.length) return false;
  for (let k = 0; k < b.length; k++) if (text[start + k] !== b[k]) return false;
  return true;
}
