/**
 * How the `autopeft` command speaks: results for people or, with `--json`, as JSON on stdout;
 * every error as one line on stderr (JSON with `--json`) and an exit code, never a stack trace.
 */

/** Exit codes of the command line (README, Commands). */
export const EXIT = {
  ok: 0,
  /** The API refused the request, or the watched study failed or was cancelled. */
  failed: 1,
  /** A bad command, option or argument. */
  usage: 2,
  /** The API or Redis cannot be reached. */
  unreachable: 3,
} as const;

/** An error the command reports as one line, with its exit code. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

/** A bad command, option or argument (exit code 2). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The API or Redis cannot be reached (exit code 3). */
export class UnreachableError extends CliError {
  override readonly name = 'UnreachableError';
  constructor(message: string) {
    super(message, EXIT.unreachable);
  }
}

/** Collapses a multi-line text into one trimmed line (an HTML page: its text, without tags). */
export function oneLine(text: string, maxLength = 300, html = false): string {
  const flat = (html ? text.replace(/<[^>]*>/g, ' ') : text).replace(/\s+/g, ' ').trim();
  return flat.length > maxLength ? `${flat.slice(0, maxLength - 1)}…` : flat;
}

/** Where a command's results go. */
export interface Output {
  /** Whether `--json` was given. */
  readonly json: boolean;
  /** Prints `data` as one JSON line with `--json`, else runs `human`. */
  result(data: unknown, human: () => void): void;
}

/** The output of one run of the command. */
export function createOutput(json: boolean): Output {
  return {
    json,
    result(data, human) {
      if (json) process.stdout.write(`${JSON.stringify(data)}\n`);
      else human();
    },
  };
}

/**
 * Prints `error` as one line on stderr and returns the exit code. A CliError's message is ours;
 * anything else is a bug and says so, still on one line.
 */
export function reportError(error: unknown, json: boolean): number {
  const known = error instanceof CliError;
  const exitCode = known ? error.exitCode : EXIT.failed;
  const raw = error instanceof Error ? error.message : String(error);
  const message = oneLine(known ? raw : `unexpected error: ${raw} (set AUTOPEFT_DEBUG=1 for the stack trace)`, 1000);
  if (json) process.stderr.write(`${JSON.stringify({ error: { message, exitCode } })}\n`);
  else process.stderr.write(`autopeft: ${message}\n`);
  if (!known && process.env['AUTOPEFT_DEBUG'] === '1' && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
  return exitCode;
}
