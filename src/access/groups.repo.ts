/** Queries for the `group` and `user_group` tables. */
import type { Executor } from '../db/executor.js';
import type { GroupRow, GroupTable } from '../db/schema.js';

/** Inserts a group. @throws the driver's unique violation when the name is taken. */
export async function insertGroup(db: Executor, row: GroupTable): Promise<GroupRow> {
  return db.insertInto('group').values(row).returningAll().executeTakeFirstOrThrow();
}

/** The group with this id or name, or undefined. */
export async function findGroup(db: Executor, idOrName: string): Promise<GroupRow | undefined> {
  return db
    .selectFrom('group')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();
}

/** Every group, by name. */
export async function listGroups(db: Executor): Promise<GroupRow[]> {
  return db.selectFrom('group').selectAll().orderBy('name').execute();
}

/** Applies changes to a group; returns the new row or undefined. */
export async function updateGroup(
  db: Executor,
  id: string,
  changes: Partial<Omit<GroupTable, 'id' | 'created_at'>>,
): Promise<GroupRow | undefined> {
  return db.updateTable('group').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Deletes a group (memberships cascade). @returns true when it existed. */
export async function deleteGroup(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('group').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The groups a user belongs to. */
export async function listGroupsOfUser(db: Executor, userId: string): Promise<GroupRow[]> {
  return db
    .selectFrom('group')
    .innerJoin('user_group', 'user_group.group_id', 'group.id')
    .selectAll('group')
    .where('user_group.user_id', '=', userId)
    .orderBy('group.name')
    .execute();
}

/** Group names per user, for a page of users (one query). */
export async function groupNamesOfUsers(db: Executor, userIds: string[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  if (userIds.length === 0) return result;
  const rows = await db
    .selectFrom('user_group')
    .innerJoin('group', 'group.id', 'user_group.group_id')
    .select(['user_group.user_id', 'group.name'])
    .where('user_group.user_id', 'in', userIds)
    .orderBy('group.name')
    .execute();
  for (const row of rows) result.set(row.user_id, [...(result.get(row.user_id) ?? []), row.name]);
  return result;
}

/** Adds a membership; does nothing when it exists. @returns true when added. */
export async function addMember(db: Executor, groupId: string, userId: string, nowIso: string): Promise<boolean> {
  const result = await db
    .insertInto('user_group')
    .values({ group_id: groupId, user_id: userId, created_at: nowIso })
    .onConflict((oc) => oc.columns(['user_id', 'group_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Removes a membership. @returns true when it existed. */
export async function removeMember(db: Executor, groupId: string, userId: string): Promise<boolean> {
  const result = await db
    .deleteFrom('user_group')
    .where('group_id', '=', groupId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Ids of a group's members. */
export async function listMemberIds(db: Executor, groupId: string): Promise<string[]> {
  const rows = await db.selectFrom('user_group').select('user_id').where('group_id', '=', groupId).execute();
  return rows.map((r) => r.user_id);
}
