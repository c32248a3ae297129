/** Queries for the tables of two-factor authentication: `totp_credential`, `recovery_code`, `passkey`, `mfa_challenge`. */
import type { Executor } from '../db/executor.js';
import type { MfaChallengeRow, MfaChallengeTable, PasskeyRow, PasskeyTable, TotpCredentialRow } from '../db/schema.js';

/** The user's TOTP credential (pending or confirmed), or undefined. */
export async function findTotp(db: Executor, userId: string): Promise<TotpCredentialRow | undefined> {
  return db.selectFrom('totp_credential').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** Replaces the user's TOTP credential with a new, unconfirmed one. */
export async function putPendingTotp(db: Executor, userId: string, secret: string, nowIso: string): Promise<void> {
  await db.deleteFrom('totp_credential').where('user_id', '=', userId).execute();
  await db.insertInto('totp_credential').values({ user_id: userId, secret, confirmed_at: null, last_step: null, created_at: nowIso }).execute();
}

/**
 * Records that a code of time step `step` was accepted, only when no code of this or a later step
 * was accepted before (one conditional write: two concurrent uses of one code cannot both pass).
 * @param confirmAt set `confirmed_at` too (enrolment), or null to leave it.
 * @returns true when recorded; false when the step was already used.
 */
export async function acceptTotpStep(db: Executor, userId: string, step: number, confirmAt: string | null): Promise<boolean> {
  const result = await db
    .updateTable('totp_credential')
    .set(confirmAt ? { last_step: step, confirmed_at: confirmAt } : { last_step: step })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes the user's TOTP credential and recovery codes. @returns true when a TOTP credential existed. */
export async function deleteTotpAndRecoveryCodes(db: Executor, userId: string): Promise<boolean> {
  await db.deleteFrom('recovery_code').where('user_id', '=', userId).execute();
  const result = await db.deleteFrom('totp_credential').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Replaces the user's recovery codes with these hashes. */
export async function replaceRecoveryCodes(db: Executor, userId: string, rows: Array<{ id: string; code_hash: string }>, nowIso: string): Promise<void> {
  await db.deleteFrom('recovery_code').where('user_id', '=', userId).execute();
  await db
    .insertInto('recovery_code')
    .values(rows.map((r) => ({ id: r.id, user_id: userId, code_hash: r.code_hash, created_at: nowIso, used_at: null })))
    .execute();
}

/** Marks an unused recovery code of the user used. @returns true when it existed and was unused (atomic). */
export async function useRecoveryCode(db: Executor, userId: string, codeHash: string, nowIso: string): Promise<boolean> {
  const result = await db
    .updateTable('recovery_code')
    .set({ used_at: nowIso })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** How many unused recovery codes the user has. */
export async function countUnusedRecoveryCodes(db: Executor, userId: string): Promise<number> {
  const row = await db
    .selectFrom('recovery_code')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Inserts a challenge. */
export async function insertChallenge(db: Executor, row: MfaChallengeTable): Promise<void> {
  await db.insertInto('mfa_challenge').values(row).execute();
}

/** A live (unused, unexpired) challenge by its hash and purpose, or undefined. */
export async function findLiveChallenge(
  db: Executor,
  tokenHash: string,
  purpose: MfaChallengeTable['purpose'],
  nowIso: string,
): Promise<MfaChallengeRow | undefined> {
  return db
    .selectFrom('mfa_challenge')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .executeTakeFirst();
}

/** Consumes a challenge: marks it used unless it already was. @returns true for the one caller that consumed it. */
export async function consumeChallenge(db: Executor, id: string, nowIso: string): Promise<boolean> {
  const result = await db.updateTable('mfa_challenge').set({ used_at: nowIso }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Counts a wrong code against a challenge; burns it (marks it used) on reaching `maxAttempts`.
 * @returns the attempts counted so far.
 */
export async function countChallengeFailure(db: Executor, id: string, maxAttempts: number, nowIso: string): Promise<number> {
  const row = await db
    .updateTable('mfa_challenge')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .returning('attempts')
    .executeTakeFirst();
  const attempts = row?.attempts ?? maxAttempts;
  if (attempts >= maxAttempts) await consumeChallenge(db, id, nowIso);
  return attempts;
}

/** Deletes challenges that expired before `beforeIso`. @returns how many. */
export async function deleteExpiredChallenges(db: Executor, beforeIso: string): Promise<number> {
  const result = await db.deleteFrom('mfa_challenge').where('expires_at', '<', beforeIso).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Inserts a passkey. @throws the driver's unique violation when the credential id is already registered. */
export async function insertPasskey(db: Executor, row: PasskeyTable): Promise<PasskeyRow> {
  return db.insertInto('passkey').values(row).returningAll().executeTakeFirstOrThrow();
}

/** The user's passkeys, oldest first. */
export async function listPasskeys(db: Executor, userId: string): Promise<PasskeyRow[]> {
  return db.selectFrom('passkey').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
}

/** A passkey by its WebAuthn credential id, or undefined. */
export async function findPasskeyByCredentialId(db: Executor, credentialId: string): Promise<PasskeyRow | undefined> {
  return db.selectFrom('passkey').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
}

/**
 * Stores a passkey's new signature counter after a sign-in, only when the stored counter is still
 * `expected` (a concurrent sign-in with a cloned authenticator cannot both pass).
 * @returns true when updated.
 */
export async function advancePasskeyCounter(db: Executor, id: string, expected: number, counter: number, nowIso: string): Promise<boolean> {
  const result = await db
    .updateTable('passkey')
    .set({ counter, last_used_at: nowIso })
    .where('id', '=', id)
    .where('counter', '=', expected)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Renames one of the user's passkeys. @returns the row, or undefined when the user has no such passkey. */
export async function renamePasskey(db: Executor, userId: string, id: string, name: string): Promise<PasskeyRow | undefined> {
  return db.updateTable('passkey').set({ name }).where('id', '=', id).where('user_id', '=', userId).returningAll().executeTakeFirst();
}

/** Deletes one of the user's passkeys. @returns the deleted row, or undefined. */
export async function deletePasskey(db: Executor, userId: string, id: string): Promise<PasskeyRow | undefined> {
  return db.deleteFrom('passkey').where('id', '=', id).where('user_id', '=', userId).returningAll().executeTakeFirst();
}

/** Deletes every passkey of the user. @returns how many. */
export async function deleteAllPasskeys(db: Executor, userId: string): Promise<number> {
  const result = await db.deleteFrom('passkey').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}
