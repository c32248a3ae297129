/**
 * Building blocks shared by the configuration sections (src/config/*.ts): the error every
 * section throws and the zod types of common variable kinds. Importing nothing from
 * `src/config.ts` keeps the sections free of import cycles.
 */
import { z } from 'zod';

/** The variables a configuration is read from (environment over `.env`). */
export type RawEnv = Record<string, string | undefined>;

/** Thrown when one or more variables are invalid; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` as a boolean. */
export const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
    message: 'must be true or false',
  })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

/** A whole number from 1 to `max`. */
export const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(max, `must be at most ${max}`));

/** A whole number from 0 to `max`. */
export const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(max, `must be at most ${max}`));

/** An absolute http(s) URL, trailing slashes removed. */
export const httpUrl = z
  .string()
  .url('must be an absolute URL')
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
  .transform((u) => u.replace(/\/+$/, ''));

/** The parsed values of a section's variables: what a section's `…Settings(e)` reads. */
export type ParsedShape<Shape extends z.ZodRawShape> = z.infer<z.ZodObject<Shape>>;
