/**
 * Named prepared statements for PostgreSQL under Kysely.
 *
 * Kysely sends every query unnamed, so PostgreSQL parses and plans it on every execution; for the
 * job protocol's statements (a claim is a data-modifying CTE over four tables) parse + plan cost
 * more server CPU than running them. Giving a repeated SQL text a name lets each connection parse
 * it once and, after five executions, reuse a generic plan when it is as cheap as a custom one
 * (PostgreSQL docs, "PREPARE", plan_cache_mode).
 *
 * Which texts get a name: those with parameters (multi-statement texts such as
 * `begin; select … for update` have none and must stay simple queries) seen at least twice, so
 * one-off texts (an `in (…)` list of a rare length) never occupy the server's memory; at most
 * {@link MAX_NAMED} names per process.
 *
 * After another instance migrates the schema, a cached statement reading a changed table fails
 * once with `0A000 cached plan must not change result type`; that text then gets a new name, so
 * the next execution on every connection prepares it afresh. Behind a pooler that does not keep
 * prepared statements (PgBouncer in transaction mode before 1.21), turn this off with
 * `DATABASE_PREPARED_STATEMENTS=false`.
 */
import type pg from 'pg';
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

/** Distinct SQL texts given a name per process; beyond it, texts run unnamed. */
const MAX_NAMED = 1000;
/** Unnamed texts remembered while counting their uses; the memory is reset beyond it. */
const MAX_COUNTED = 5000;
/** Texts with more parameters than this (big batches) stay unnamed: each length is its own text. */
const MAX_PARAMETERS = 256;

/** Assigns statement names to SQL texts (shared by every connection of one pool). */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private readonly uses = new Map<string, number>();
  private next = 0;

  /** The name for `text` with `parameterCount` parameters, or undefined to run it unnamed. */
  nameFor(text: string, parameterCount: number): string | undefined {
    const name = this.names.get(text);
    if (name !== undefined || parameterCount === 0 || parameterCount > MAX_PARAMETERS || this.names.size >= MAX_NAMED) return name;
    const seen = (this.uses.get(text) ?? 0) + 1;
    if (seen < 2) {
      if (this.uses.size >= MAX_COUNTED) this.uses.clear();
      this.uses.set(text, seen);
      return undefined;
    }
    this.uses.delete(text);
    const fresh = `gh_${(this.next++).toString(36)}`;
    this.names.set(text, fresh);
    return fresh;
  }

  /** Gives `text` a new name on its next use (its cached plan no longer matches the schema). */
  rename(text: string): void {
    if (this.names.has(text)) this.names.set(text, `gh_${(this.next++).toString(36)}`);
  }
}

/** SQLSTATE of "cached plan must not change result type" (feature_not_supported). */
const CACHED_PLAN_CHANGED = '0A000';

function preparedClient(client: pg.PoolClient, names: StatementNames): PostgresPoolClient {
  function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  function query<R>(textOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // Cursors (Kysely's `stream()`) pass straight through.
    if (typeof textOrCursor !== 'string') return client.query(textOrCursor as unknown as pg.Submittable) as unknown as PostgresCursor<R>;
    const values = [...(parameters ?? [])];
    const name = names.nameFor(textOrCursor, values.length);
    const run = name === undefined ? client.query(textOrCursor, values) : client.query({ name, text: textOrCursor, values });
    return (run as unknown as Promise<PostgresQueryResult<R>>).catch((error: unknown) => {
      if (name !== undefined && (error as { code?: string }).code === CACHED_PLAN_CHANGED) names.rename(textOrCursor);
      throw error;
    });
  }
  return { query, release: () => client.release() };
}

/**
 * The pool as Kysely's PostgresDialect takes it, running repeated parameterised queries as named
 * prepared statements (see the module comment).
 */
export function withPreparedStatements(pool: pg.Pool): PostgresPool {
  const names = new StatementNames();
  return {
    connect: async () => preparedClient(await pool.connect(), names),
    end: () => pool.end(),
  };
}
