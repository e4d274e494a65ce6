/**
 * A ZIP archive writer for small bundles (a trial's configuration and adapter files): entries
 * stored uncompressed (adapter weights barely compress), UTF-8 names, one modification time.
 * Pure: bytes in, bytes out. Limits of the classic format apply (under 4 GiB, 65,535 entries).
 */
import { crc32 } from 'node:zlib';

/** One file of an archive. */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  data: Uint8Array;
}

/** The MS-DOS time and date fields of `at` (local fields taken as UTC, 2-second resolution). */
function dosTime(at: Date): { time: number; date: number } {
  const year = Math.min(Math.max(at.getUTCFullYear(), 1980), 2107);
  return {
    time: (at.getUTCHours() << 11) | (at.getUTCMinutes() << 5) | Math.floor(at.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((at.getUTCMonth() + 1) << 5) | at.getUTCDate(),
  };
}

/** Flags of every entry: bit 11, names are UTF-8. */
const UTF8_NAMES = 0x0800;
/** Version needed to extract: 2.0. */
const VERSION = 20;

/**
 * The fields a local header and a central directory header share, in the same order, from
 * `at`: version needed, flags, method (stored), time, date, CRC-32, both sizes, name and extra
 * field lengths.
 */
function writeEntryFields(buffer: Buffer, at: number, f: { time: number; date: number; crc: number; size: number; nameLength: number }): void {
  buffer.writeUInt16LE(VERSION, at);
  buffer.writeUInt16LE(UTF8_NAMES, at + 2);
  buffer.writeUInt16LE(0, at + 4);
  buffer.writeUInt16LE(f.time, at + 6);
  buffer.writeUInt16LE(f.date, at + 8);
  buffer.writeUInt32LE(f.crc, at + 10);
  buffer.writeUInt32LE(f.size, at + 14);
  buffer.writeUInt32LE(f.size, at + 18);
  buffer.writeUInt16LE(f.nameLength, at + 22);
  buffer.writeUInt16LE(0, at + 24);
}

/**
 * The archive of `entries`, every entry dated `modified`. The same input gives the same bytes.
 * @throws RangeError beyond the classic format's limits.
 */
export function zipArchive(entries: readonly ZipEntry[], modified: Date): Buffer {
  if (entries.length > 0xffff) throw new RangeError(`a ZIP archive holds at most 65535 entries, got ${entries.length}`);
  const { time, date } = dosTime(modified);
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const size = entry.data.byteLength;
    const crc = crc32(entry.data);
    const fields = { time, date, crc, size, nameLength: name.length };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    writeEntryFields(local, 4, fields);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(VERSION, 4); // version made by
    writeEntryFields(header, 6, fields);
    // Comment length, disk number, internal and external attributes: all zero.
    header.writeUInt32LE(offset, 42);
    parts.push(local, name, Buffer.from(entry.data.buffer, entry.data.byteOffset, size));
    central.push(header, name);
    offset += local.length + name.length + size;
    if (offset > 0xffffffff) throw new RangeError('a ZIP archive without ZIP64 stays under 4 GiB');
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}
