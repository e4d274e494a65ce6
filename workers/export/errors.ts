/** Errors of the exporters. */

/** A configuration has no representation in the requested format; the message says why. */
export class ExportError extends Error {
  override name = 'ExportError';
}
