/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0, as specified in NumPy's
 * `numpy/lib/format.py` and NEP 1) holding complex arrays, read and written without NumPy.
 *
 * Layout: the magic `\x93NUMPY`, two version bytes, the header length (uint16 little-endian for
 * 1.0, uint32 for 2.0/3.0), an ASCII (3.0: UTF-8) Python dict literal such as
 * `{'descr': '<c16', 'fortran_order': False, 'shape': (4, 3, 2), }` padded with spaces and a
 * final newline so the data starts at a multiple of 64 bytes, then the data in C order.
 *
 * Campaign files use complex128 little-endian (`<c16`: each element a real then an imaginary
 * float64): Kraus operators with shape `(n_kraus, d_out, d_in)`, vectors with shape `(d_in,)`.
 * Reading also accepts `<f8` (real float64, imaginary parts zero) and Fortran order.
 */
import type { CMatrix } from './complex.js';
import type { CVector, KrausChannel } from './channel.js';

/** A complex array read from a `.npy` file: its shape and C-ordered elements. */
export interface NpyArray {
  shape: number[];
  re: Float64Array;
  im: Float64Array;
}

/** Why a `.npy` file could not be read; `message` says what is wrong, for a 422's detail. */
export class NpyFormatError extends Error {
  override readonly name = 'NpyFormatError';
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/**
 * Parses a `.npy` file.
 * @throws NpyFormatError when the bytes are not a `.npy` file of complex128 or float64 numbers,
 *   the header is malformed, or the data is shorter or longer than the shape says.
 */
export function readNpy(bytes: Buffer): NpyArray {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw new NpyFormatError('not a .npy file (the magic string \\x93NUMPY is missing)');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new NpyFormatError(`unsupported .npy format version ${major}.${bytes[7]}`);
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.length >= 12 ? bytes.readUInt32LE(8) : Number.NaN;
  const headerStart = major === 1 ? 10 : 12;
  if (!Number.isFinite(headerLength) || headerStart + headerLength > bytes.length) throw new NpyFormatError('the .npy header is cut short');
  const header = bytes.subarray(headerStart, headerStart + headerLength).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyFormatError("the .npy header lacks 'descr', 'fortran_order' or 'shape'");
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      if (!/^[0-9]{1,9}$/.test(s)) throw new NpyFormatError(`the .npy shape (${shapeText}) is not a tuple of sizes`);
      return Number(s);
    });
  let width: number;
  if (descr === '<c16') width = 16;
  else if (descr === '<f8') width = 8;
  else throw new NpyFormatError(`the .npy dtype is ${descr}; expected complex128 ('<c16') or float64 ('<f8'), little-endian`);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = bytes.subarray(headerStart + headerLength);
  if (data.length !== count * width) {
    throw new NpyFormatError(`the .npy data has ${data.length} bytes; shape (${shape.join(', ')}) of ${descr} needs ${count * width}`);
  }
  const re = new Float64Array(count);
  const im = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    re[i] = data.readDoubleLE(i * width);
    if (width === 16) im[i] = data.readDoubleLE(i * width + 8);
  }
  if (!re.every(Number.isFinite) || !im.every(Number.isFinite)) throw new NpyFormatError('the .npy data holds NaN or infinite numbers');
  return fortran === 'True' ? toCOrder({ shape, re, im }) : { shape, re, im };
}

/** Reorders a Fortran-ordered array's elements into C order. */
function toCOrder(array: NpyArray): NpyArray {
  const { shape } = array;
  const count = array.re.length;
  const re = new Float64Array(count);
  const im = new Float64Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < count; f++) {
    // f enumerates Fortran order (first index fastest); compute the C offset of the same index.
    let c = 0;
    for (let d = 0; d < shape.length; d++) c = c * shape[d]! + index[d]!;
    re[c] = array.re[f]!;
    im[c] = array.im[f]!;
    for (let d = 0; d < shape.length; d++) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return { shape, re, im };
}

/** Writes a complex128 (`<c16`, C order) `.npy` file, format 1.0. */
export function writeNpy(shape: readonly number[], re: Float64Array, im: Float64Array): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (re.length !== count || im.length !== count) throw new Error(`shape (${shape.join(', ')}) needs ${count} elements, got ${re.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<c16', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(count * 16);
  for (let i = 0; i < count; i++) {
    data.writeDoubleLE(re[i]!, i * 16);
    data.writeDoubleLE(im[i]!, i * 16 + 8);
  }
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

/** A channel's Kraus operators as a `.npy` file of shape `(n_kraus, d_out, d_in)`. */
export function krausToNpy(channel: KrausChannel): Buffer {
  const n = channel.kraus.length;
  const size = channel.dOut * channel.dIn;
  const re = new Float64Array(n * size);
  const im = new Float64Array(n * size);
  channel.kraus.forEach((k, i) => {
    re.set(k.re, i * size);
    im.set(k.im, i * size);
  });
  return writeNpy([n, channel.dOut, channel.dIn], re, im);
}

/**
 * A channel from a `.npy` array of shape `(n_kraus, d_out, d_in)`.
 * @throws NpyFormatError when the array is not three-dimensional or has an empty axis.
 */
export function krausFromNpy(array: NpyArray): KrausChannel {
  if (array.shape.length !== 3) throw new NpyFormatError(`Kraus operators need shape (n_kraus, d_out, d_in); the file has shape (${array.shape.join(', ')})`);
  const [n, dOut, dIn] = array.shape as [number, number, number];
  if (!n || !dOut || !dIn) throw new NpyFormatError(`the Kraus shape (${array.shape.join(', ')}) has an empty axis`);
  const size = dOut * dIn;
  const kraus: CMatrix[] = [];
  for (let i = 0; i < n; i++) {
    kraus.push({ rows: dOut, cols: dIn, re: array.re.slice(i * size, (i + 1) * size), im: array.im.slice(i * size, (i + 1) * size) });
  }
  return { dIn, dOut, kraus };
}

/** A vector as a `.npy` file of shape `(d,)`. */
export function vectorToNpy(vector: CVector): Buffer {
  return writeNpy([vector.re.length], vector.re, vector.im);
}

/** A vector from a `.npy` array of shape `(d,)`. @throws NpyFormatError for another shape. */
export function vectorFromNpy(array: NpyArray): CVector {
  if (array.shape.length !== 1) throw new NpyFormatError(`a vector needs shape (d,); the file has shape (${array.shape.join(', ')})`);
  return { re: array.re, im: array.im };
}
