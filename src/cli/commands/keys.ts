/** `gatehouse keys rotate` and `gatehouse secrets rotate NAME`. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { envFilePath } from '../../config.js';
import { inTransaction } from '../../db/transaction.js';
import { AppError } from '../../shared/errors.js';
import { CLI_ACTOR, withGatehouse } from '../context.js';

/**
 * Sets `name=value` in a dotenv file's text: replaces the existing assignments (also `export
 * NAME=`; every one, since the last one is the one that counts), or appends one. Other lines,
 * comments and order are kept.
 */
export function setDotenvValue(text: string, name: string, value: string): string {
  const line = `${name}=${value}`;
  const pattern = new RegExp(`^(?:export\\s+)?${name}\\s*=.*$`, 'gm');
  let found = false;
  const replaced = text.replace(pattern, () => {
    found = true;
    return line;
  });
  if (found) return replaced;
  return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${line}\n`;
}

function assertSecretName(value: string): void {
  if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(value)) {
    throw new AppError('validation_failed', `"${value}" is not an environment variable name such as WEBHOOK_SECRET.`);
  }
}

/** Registers `keys` and `secrets` on `program`. */
export function registerKeyCommands(program: Command): void {
  program
    .command('keys')
    .description('Token signing keys.')
    .command('rotate')
    .description(
      'Start signing access tokens with a new key. Old keys stay in the JWKS and keep verifying until the tokens they signed expire.',
    )
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      await withGatehouse(async (gatehouse) => {
        const { kid, retired } = await gatehouse.accessTokens.rotate();
        await inTransaction(gatehouse.database.db, (tx) =>
          gatehouse.audit.record(tx.db, CLI_ACTOR, {
            action: 'keys.rotate',
            targetType: 'signing_key',
            targetId: kid,
            details: { retired },
          }),
        );
        const ttl = gatehouse.accessTokens.retiredKeyRetentionSeconds;
        if (opts.json) return console.log(JSON.stringify({ kid, retired, retired_keys_verify_for_seconds: ttl }, null, 2));
        console.log(`New signing key ${kid} is active.`);
        if (retired.length) {
          console.log(`Retired ${retired.join(', ')}: still in the JWKS for ${ttl} s, until the tokens they signed expire.`);
        }
        console.log('Running instances switch to the new key within a minute; no restart is needed.');
      });
    });

  program
    .command('secrets')
    .description('Secrets kept in the .env file.')
    .command('rotate <name>')
    .description('Write a new random value (256 bits, base64url) for NAME into the .env file.')
    .option('--dotenv-file <path>', 'the dotenv file to rewrite (default: ENV_FILE or ./.env)')
    .action((name: string, opts: { dotenvFile?: string }) => {
      assertSecretName(name);
      const file = opts.dotenvFile ? path.resolve(opts.dotenvFile) : envFilePath();
      const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
      const after = setDotenvValue(before, name, randomBytes(32).toString('base64url'));
      // Write beside the file and rename over it, so a crash never leaves a half-written .env.
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, after, { mode: 0o600 });
      renameSync(temp, file);
      console.log(`${name} rotated in ${file}. Restart Gatehouse for the new value to take effect.`);
    });
}
