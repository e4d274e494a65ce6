/**
 * Splitting delimited text (CSV with RFC 4180 quoting, TSV without) into rows that remember the
 * line they start on, so every later error can name it.
 */
import { DatasetError } from './errors.js';

/** One record: its fields and the 1-based line it starts on. */
export interface Row {
  line: number;
  fields: string[];
}

/** How to split. */
export interface DelimitedOptions {
  /** Name of the file, for error messages. */
  file: string;
  delimiter: string;
  /**
   * Whether `"` quotes fields (CSV). GLUE's TSV files are written without quoting, and their
   * sentences contain bare quotes, so TSV is split on tabs alone.
   */
  quoted: boolean;
}

/** Drops a leading byte-order mark (some GLUE files, e.g. MRPC's, start with one). */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Splits text into rows; empty lines (outside quoted fields) are skipped. */
export function parseDelimited(text: string, options: DelimitedOptions): Row[] {
  const source = stripBom(text);
  return options.quoted ? parseQuoted(source, options) : parseUnquoted(source, options.delimiter);
}

function parseUnquoted(text: string, delimiter: string): Row[] {
  const rows: Row[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line === '') continue;
    rows.push({ line: i + 1, fields: line.split(delimiter) });
  }
  return rows;
}

function parseQuoted(text: string, { file, delimiter }: DelimitedOptions): Row[] {
  const rows: Row[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // Skip empty lines between records.
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new DatasetError({ file, line: quoteLine }, 'a quoted field is never closed (missing closing ")');
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        const next = text[i];
        if (next !== undefined && next !== delimiter && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
          throw new DatasetError(
            { file, line },
            `unexpected ${JSON.stringify(next)} after a closing quote (a quote inside a quoted field must be doubled: "")`,
          );
        }
      } else {
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') {
            throw new DatasetError({ file, line }, 'a quote inside an unquoted field (quote the whole field and double the inner quotes: "say ""hi""")');
          }
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (i < n && text[i] === delimiter) {
        i++;
        continue;
      }
      break;
    }
    rows.push({ line: start, fields });
    if (i < n) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
    }
  }
  return rows;
}
