/**
 * Errors of users' data. Both extend {@link InvalidTrialError}: no retry fixes a malformed file
 * or a path outside the data root, so a worker fails such a trial at once.
 */
import { InvalidTrialError } from '../errors.js';

/** Where in a file a problem is: the file's name and, when known, the 1-based line. */
export interface DataLocation {
  file: string;
  line?: number;
}

/** A dataset file (or stored upload) whose content is unusable; the message names file, line and problem. */
export class DatasetError extends InvalidTrialError {
  override name = 'DatasetError';
  readonly file: string;
  readonly line: number | undefined;
  /** The problem alone, without the location. */
  readonly problem: string;

  constructor(location: DataLocation, problem: string) {
    super(location.line === undefined ? `${location.file}: ${problem}` : `${location.file}, line ${location.line}: ${problem}`);
    this.file = location.file;
    this.line = location.line;
    this.problem = problem;
  }
}

/** A data or model path that is malformed, escapes its allow-listed root, or does not exist. */
export class DataPathError extends InvalidTrialError {
  override name = 'DataPathError';
}
