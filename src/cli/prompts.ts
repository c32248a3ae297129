/**
 * Interactive prompts (via @clack/prompts) that turn Ctrl-C into a {@link CancelledError}
 * instead of a stack trace, and a reader for `--password-stdin`.
 */
import { isCancel, password, text } from '@clack/prompts';

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
