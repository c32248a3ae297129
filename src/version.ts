import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package.json of this installation: the one source of the version (`gatehouse version bump` rewrites it). */
export const PACKAGE_JSON_PATH: string = fileURLToPath(new URL('../package.json', import.meta.url));

/** The package version (from package.json), shown in the API docs and `gatehouse --version`. */
export const VERSION: string = (JSON.parse(readFileSync(PACKAGE_JSON_PATH, 'utf8')) as { version: string }).version;
