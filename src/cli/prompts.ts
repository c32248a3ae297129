/**
 * Interactive prompts (via @clack/prompts) that turn Ctrl-C into a {@link CancelledError}
 * instead of a stack trace, a reader for `--password-stdin`, and confirmations that also work
 * when answers are piped into standard input.
 */
import { createInterface } from 'node:readline';
import { confirm, isCancel, password, text } from '@clack/prompts';
import { ExitCode, ExitError } from './output.js';

/** Thrown when the operator cancels a prompt (Ctrl-C / Escape). */
export class CancelledError extends Error {
  constructor() {
    super('Cancelled by the operator.');
    this.name = 'CancelledError';
  }
}

/** Asks for a line of text; must not be empty. @throws CancelledError */
export async function promptText(message: string): Promise<string> {
  const value = await text({ message, validate: (v) => (v && v.trim() ? undefined : 'Required.') });
  if (isCancel(value)) throw new CancelledError();
  return value.trim();
}

/** Asks for a line of text that may be left empty. @throws CancelledError */
export async function promptOptionalText(message: string): Promise<string> {
  const value = await text({ message, defaultValue: '', placeholder: '(none)' });
  if (isCancel(value)) throw new CancelledError();
  return (value ?? '').trim();
}

/** Asks for a password without echoing it. @throws CancelledError */
export async function promptPassword(message: string): Promise<string> {
  const value = await password({ message, validate: (v) => (v && v.length >= 10 ? undefined : 'At least 10 characters.') });
  if (isCancel(value)) throw new CancelledError();
  return value;
}

/** Reads all of standard input and strips one trailing newline (as `docker login --password-stdin` does). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks questions: on a terminal with prompts, otherwise one answer per line of standard input. */
export interface Asker {
  /** Asks for a line of text (trimmed). @throws CancelledError (Ctrl-C, or stdin ended). */
  text(message: string): Promise<string>;
  /** Asks yes/no; piped answers `y`/`yes` mean yes, anything else no. @throws CancelledError */
  confirm(message: string): Promise<boolean>;
}

/**
 * An {@link Asker} for this process: @clack/prompts when standard input is a terminal; otherwise
 * it prints each question on stderr and reads the next line of standard input (scripts pipe the
 * answers in); the end of input before an answer counts as cancelling.
 */
export function createAsker(): Asker {
  if (process.stdin.isTTY) {
    return {
      async text(message) {
        const value = await text({ message });
        if (isCancel(value)) throw new CancelledError();
        return (value ?? '').trim();
      },
      async confirm(message) {
        const value = await confirm({ message, initialValue: false });
        if (isCancel(value)) throw new CancelledError();
        return value;
      },
    };
  }
  let lines: AsyncIterator<string> | undefined;
  const next = async (message: string): Promise<string> => {
    process.stderr.write(`${message} `);
    lines ??= createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
    const line = await lines.next();
    process.stderr.write('\n');
    if (line.done) throw new CancelledError();
    return line.value.trim();
  };
  return {
    text: (message) => next(message),
    confirm: async (message) => /^(y|yes)$/i.test(await next(`${message} (yes/no)`)),
  };
}

/**
 * Asks to confirm an action (commands call it unless `--yes`); without a terminal it reads one
 * answer line from standard input (`yes` to go on).
 * @param hint how to go on without a terminal, e.g. `Pass --yes to cancel without asking.`
 * @throws ExitError 2 with `hint` when standard input ends without an answer; CancelledError on
 *   "no" or Ctrl-C.
 */
export async function confirmOrHint(question: string, hint: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await createAsker().confirm(question);
  } catch (error) {
    if (error instanceof CancelledError && !process.stdin.isTTY) {
      throw new ExitError(ExitCode.invalidInput, `error: no terminal to confirm on (standard input ended). ${hint}`);
    }
    throw error;
  }
  if (!ok) throw new CancelledError();
}
