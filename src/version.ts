import { readFileSync } from 'node:fs';

/** The package version (from package.json), shown in the API docs and `gatehouse --version`. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
