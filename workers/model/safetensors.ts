/**
 * The safetensors format, read and written directly: an 8-byte little-endian header length,
 * a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
 * then the raw little-endian tensor bytes (offsets relative to the end of the header).
 */

/** Element types this reader decodes to float32 (and the writer can produce). */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Thrown for a file that is not valid safetensors, naming the file and, if any, the tensor. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** One tensor's entry in the header. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** Byte range within the data section. */
  begin: number;
  end: number;
}

/** A parsed file: the header, and decoding of single tensors on demand. */
export interface SafetensorsFile {
  entries: ReadonlyMap<string, SafetensorsEntry>;
  metadata: Readonly<Record<string, string>>;
  /** The tensor's values as float32 (F32, F16 and BF16 only). */
  read(name: string): Float32Array;
}

/** Half-precision bits to a number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** A number to the nearest half-precision bits (round half to even). */
export function floatToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** Parses a safetensors file held in memory; `source` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const fail = (message: string): never => {
    throw new SafetensorsError(`${source}: ${message}`);
  };
  if (bytes.length < 8) fail(`too short for a safetensors file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) fail(`header length ${headerLength} exceeds the file size ${bytes.length}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    fail(`header is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const { dtype, shape, data_offsets: offsets } = entry ?? {};
    if (typeof dtype !== 'string' || !(dtype in BYTES_PER_ELEMENT)) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) fail(`tensor "${name}" has an invalid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((n) => Number.isInteger(n) && n >= 0)) {
      fail(`tensor "${name}" has invalid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end > dataLength) fail(`tensor "${name}" lies outside the file (bytes ${begin}..${end} of ${dataLength}); the file may be truncated`);
    if (end - begin !== count * BYTES_PER_ELEMENT[dtype as string]!) {
      fail(`tensor "${name}" has ${end - begin} bytes, but ${dtype as string} [${(shape as number[]).join(', ')}] needs ${count * BYTES_PER_ELEMENT[dtype as string]!}`);
    }
    entries.set(name, { dtype: dtype as string, shape: shape as number[], begin, end });
  }
  return {
    entries,
    metadata,
    read(name: string): Float32Array {
      const entry = entries.get(name);
      if (!entry) return fail(`tensor "${name}" is missing`);
      const start = dataStart + entry.begin;
      const count = (entry.end - entry.begin) / BYTES_PER_ELEMENT[entry.dtype]!;
      const out = new Float32Array(count);
      switch (entry.dtype) {
        case 'F32':
          // Little-endian hosts (all Node targets in practice) can view aligned data directly.
          if ((bytes.byteOffset + start) % 4 === 0) {
            out.set(new Float32Array(bytes.buffer, bytes.byteOffset + start, count));
            break;
          }
          for (let i = 0; i < count; i++) out[i] = view.getFloat32(start + 4 * i, true);
          break;
        case 'F16':
          for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(start + 2 * i, true));
          break;
        case 'BF16': {
          const word = new DataView(new ArrayBuffer(4));
          for (let i = 0; i < count; i++) {
            word.setUint32(0, view.getUint16(start + 2 * i, true) << 16);
            out[i] = word.getFloat32(0);
          }
          break;
        }
        default:
          fail(`tensor "${name}" has dtype ${entry.dtype}; only F32, F16 and BF16 are read`);
      }
      return out;
    },
  };
}

/** One tensor to write. */
export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array;
  /** @defaultValue 'F32' */
  dtype?: SafetensorsDtype;
}

/**
 * Serialises tensors (sorted by name) with string metadata, e.g. `{format: 'pt'}` for
 * PyTorch-side loaders. The header is padded with spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of sorted) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new RangeError(`tensor "${t.name}": shape [${t.shape.join(', ')}] does not match ${t.data.length} values`);
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new RangeError(`tensor name "${t.name}" is reserved or repeated`);
    const dtype = t.dtype ?? 'F32';
    const size = count * BYTES_PER_ELEMENT[dtype]!;
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of sorted) {
    const dtype = t.dtype ?? 'F32';
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i]!;
      if (dtype === 'F32') {
        view.setFloat32(at, v, true);
        at += 4;
      } else if (dtype === 'F16') {
        view.setUint16(at, floatToHalf(v), true);
        at += 2;
      } else {
        // BF16: round the float32 bits to the nearest even upper half.
        const bits = new Uint32Array(new Float32Array([v]).buffer)[0]!;
        const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
        view.setUint16(at, rounded & 0xffff, true);
        at += 2;
      }
    }
  }
  return out;
}
