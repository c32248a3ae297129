/** What every CLI command shares: building Gatehouse from the configuration, option parsers, the actor. */
import { InvalidArgumentError } from 'commander';
import type { ActorContext } from '../audit/audit.service.js';
import { loadConfig } from '../config.js';
import { createGatehouse, type Gatehouse, type GatehouseOverrides } from '../container.js';
import { createLogger } from '../shared/logger.js';

/** The audit-log actor for commands run from the terminal. */
export const CLI_ACTOR: ActorContext = { actorId: null, ip: null, userAgent: 'gatehouse-cli' };

/**
 * Builds Gatehouse from the environment (and `.env`), runs `work`, and always closes it.
 * Logs go to stderr at `warn` so stdout carries only the command's output.
 */
export async function withGatehouse<T>(work: (gatehouse: Gatehouse) => Promise<T>, overrides: Pick<GatehouseOverrides, 'modules'> = {}): Promise<T> {
  const config = loadConfig();
  const gatehouse = await createGatehouse(config, { ...overrides, logger: createLogger({ level: 'warn', stderr: true }) });
  try {
    return await work(gatehouse);
  } finally {
    await gatehouse.close();
  }
}

/** commander parser for a whole number in `min..max`. */
export function intIn(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

/** commander parser for a whole number ≥ 1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

/**
 * commander parser for a whole number ≥ 0, or `default` (→ `'default'`: use the configured
 * default). Not null: commander replaces a parser's null with ''.
 */
export function countOrDefault(value: string): number | 'default' {
  if (value === 'default') return 'default';
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number or "default"');
  return Number(value);
}

/**
 * commander parser for a duration: seconds, or a number with a unit (`90s`, `15m`, `12h`, `7d`,
 * `2w`), or `default` (→ `'default'`; not null, which commander replaces with '').
 */
export function durationOrDefault(value: string): number | 'default' {
  if (value === 'default') return 'default';
  const seconds = parseDuration(value);
  if (seconds === null) throw new InvalidArgumentError('must be seconds or a duration like 30m, 12h, 7d, 2w, or "default"');
  return seconds;
}

/** Parses `3600`, `90s`, `15m`, `12h`, `7d` or `2w` into seconds; null when malformed. */
export function parseDuration(value: string): number | null {
  const match = /^(\d+)\s*([smhdw]?)$/.exec(value.trim());
  if (!match) return null;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(match[1]) * unit;
}
