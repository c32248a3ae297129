/**
 * Named prepared statements on PostgreSQL (src/db/pg-prepared.ts): which SQL texts get a name,
 * that a repeated query really runs as a prepared statement on the server (`pg_prepared_statements`
 * of the connection), that results stay correct, and that a schema change by another connection
 * costs one failed execution, after which the text is prepared afresh.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatementNames, withPreparedStatements } from '../../src/db/pg-prepared.js';
import { TEST_DATABASE_URL } from '../helpers/dialects.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('StatementNames', () => {
  it('names a parameterised text from its second use on, and the same name every time after', () => {
    const names = new StatementNames();
    expect(names.nameFor('select $1', 1)).toBeUndefined();
    const name = names.nameFor('select $1', 1);
    expect(name).toMatch(/^gh_/);
    expect(names.nameFor('select $1', 1)).toBe(name);
    expect(names.nameFor('select $1 + 1', 1)).toBeUndefined();
  });

  it('never names texts without parameters (multi-statement simple queries) or with very many', () => {
    const names = new StatementNames();
    for (let i = 0; i < 3; i++) expect(names.nameFor('begin; select 1', 0)).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(names.nameFor('insert many', 1000)).toBeUndefined();
  });

  it('gives a renamed text a new name', () => {
    const names = new StatementNames();
    names.nameFor('select $1', 1);
    const before = names.nameFor('select $1', 1);
    names.rename('select $1');
    const after = names.nameFor('select $1', 1);
    expect(after).toMatch(/^gh_/);
    expect(after).not.toBe(before);
  });
});

describe.runIf(TEST_DATABASE_URL)('prepared statements on PostgreSQL', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let db: Kysely<Record<string, { id: number; label: string }>>;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // One connection, so every query below runs on the session whose statements we inspect.
    pool = new pg.Pool({ connectionString: database.url, max: 1 });
    db = new Kysely({ dialect: new PostgresDialect({ pool: withPreparedStatements(pool) }) });
    await sql`create table item (id int primary key, label text not null)`.execute(db);
    await sql`insert into item values (1, 'one'), (2, 'two'), (3, 'three')`.execute(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  const labelOf = async (id: number) => (await db.selectFrom('item').select('label').where('id', '=', id).executeTakeFirst())?.label;
  const prepared = async () =>
    (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db)).rows.map((r) => r.statement);

  it('runs a repeated query as a named statement with correct results for each parameter', async () => {
    expect(await labelOf(1)).toBe('one');
    expect(await prepared()).toEqual([]);
    expect(await labelOf(2)).toBe('two');
    expect(await labelOf(3)).toBe('three');
    expect(await labelOf(4)).toBeUndefined();
    const statements = await prepared();
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('from "item"');
  });

  it('recovers from a schema change made by another connection after one failed execution', async () => {
    const all = () => db.selectFrom('item').selectAll().where('id', '>', 0).orderBy('id').execute();
    await all();
    expect(await all()).toHaveLength(3);
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    await other.query('alter table item add column note text');
    await other.end();
    await expect(all()).rejects.toMatchObject({ code: '0A000' });
    const rows = await all();
    expect(rows).toHaveLength(3);
    expect(Object.keys(rows[0] as object).sort()).toEqual(['id', 'label', 'note']);
  });
});
