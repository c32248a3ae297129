/** `/admin/users`: the users table (search, filters, cursor paging), ban/unban with a reason, role and groups. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { api, type Page as ApiPage } from '../../api/client';
import { useMe, usePermissions } from '../../api/session';
import { Button, ConfirmDialog, Loading, Notice, Page, ProblemAlert, Time } from '../../components/ui';
import { AdminMenu, Pager, StateBadge, useCursorPager } from './common';

/** A user as `GET /api/v1/users` lists them. */
interface AdminUser {
  id: string;
  email: string;
  name: string;
  email_verified: boolean;
  role: 'user' | 'admin' | 'worker';
  status: 'active' | 'deactivated';
  groups: string[];
  banned_until: string | null;
  ban_reason: string | null;
  created_at: string;
}

interface Group {
  id: string;
  name: string;
  description: string;
}

interface Filters {
  q: string;
  role: string;
  status: string;
  banned: string;
  verified: string;
  group: string;
}

const NO_FILTERS: Filters = { q: '', role: '', status: '', banned: '', verified: '', group: '' };

const BAN_DURATIONS: Array<{ label: string; seconds: number | null }> = [
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 7 * 86_400 },
  { label: '30 days', seconds: 30 * 86_400 },
  { label: 'Indefinitely', seconds: null },
];

function isBanned(user: AdminUser): boolean {
  return user.banned_until !== null && Date.parse(user.banned_until) > Date.now();
}

/** A labelled select. */
function Select({ label, value, onChange, options }: { label: string; value: string; onChange: (value: string) => void; options: Array<[string, string]> }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        {options.map(([optionValue, text]) => (
          <option key={optionValue} value={optionValue}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

export function UsersPage() {
  const client = useQueryClient();
  const permissions = usePermissions();
  const me = useMe();
  const canManage = permissions.can('users:manage');
  const pager = useCursorPager();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [banning, setBanning] = useState<AdminUser | null>(null);
  const [editingGroups, setEditingGroups] = useState<AdminUser | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const users = useQuery({
    queryKey: ['admin', 'users', filters, pager.cursor],
    queryFn: () =>
      api<ApiPage<AdminUser>>('/users', {
        query: { ...filters, limit: 20, cursor: pager.cursor },
      }),
    placeholderData: keepPreviousData,
  });
  const groups = useQuery({
    queryKey: ['admin', 'groups'],
    queryFn: () => api<{ items: Group[] }>('/groups'),
    enabled: permissions.can('groups:manage'),
  });

  const refresh = () => client.invalidateQueries({ queryKey: ['admin', 'users'] });
  const act = useMutation({
    mutationFn: (call: { path: string; method?: 'POST' | 'PATCH'; body?: unknown; done: string }) =>
      api<AdminUser>(call.path, { method: call.method ?? 'POST', body: call.body }).then(() => call.done),
    onSuccess: async (done) => {
      setNotice(done);
      setBanning(null);
      await refresh();
    },
  });

  const groupOptions: Array<[string, string]> = [['', 'Any group'], ...(groups.data?.items ?? []).map((g): [string, string] => [g.name, g.name])];

  return (
    <Page title="Users" wide>
      <AdminMenu />
      <form
        className="filters"
        role="search"
        aria-label="Filter users"
        onSubmit={(event) => {
          event.preventDefault();
          setFilters(draft);
          pager.reset();
        }}
      >
        <div className="field">
          <label htmlFor="user-search">Search</label>
          <input id="user-search" type="search" value={draft.q} placeholder="Email or name" maxLength={200} onChange={(event) => setDraft({ ...draft, q: event.target.value })} />
        </div>
        <Select label="Role" value={draft.role} onChange={(role) => setDraft({ ...draft, role })} options={[['', 'Any role'], ['user', 'user'], ['admin', 'admin'], ['worker', 'worker']]} />
        <Select label="Status" value={draft.status} onChange={(status) => setDraft({ ...draft, status })} options={[['', 'Any status'], ['active', 'active'], ['deactivated', 'deactivated']]} />
        <Select label="Banned" value={draft.banned} onChange={(banned) => setDraft({ ...draft, banned })} options={[['', 'Banned or not'], ['true', 'Banned'], ['false', 'Not banned']]} />
        <Select label="Email verified" value={draft.verified} onChange={(verified) => setDraft({ ...draft, verified })} options={[['', 'Verified or not'], ['true', 'Verified'], ['false', 'Not verified']]} />
        {groups.data ? <Select label="Group" value={draft.group} onChange={(group) => setDraft({ ...draft, group })} options={groupOptions} /> : null}
        <div className="filter-actions row">
          <Button type="submit" variant="primary">
            Apply filters
          </Button>
          <Button
            onClick={() => {
              setDraft(NO_FILTERS);
              setFilters(NO_FILTERS);
              pager.reset();
            }}
          >
            Clear
          </Button>
        </div>
      </form>
      {notice ? <Notice>{notice}</Notice> : null}
      <ProblemAlert error={users.error ?? act.error} />
      {users.isPending ? <Loading label="Loading users…" /> : null}
      {users.data ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Users</caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Groups</th>
                  <th scope="col">Created</th>
                  {canManage ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {users.data.items.map((user) => {
                  const banned = isBanned(user);
                  const self = me.data?.id === user.id;
                  return (
                    <tr key={user.id}>
                      <td>
                        <strong>{user.name || '—'}</strong>
                        <br />
                        <span className="muted">{user.email}</span> {user.email_verified ? null : <span className="badge warn">unverified</span>}
                      </td>
                      <td>
                        {canManage && !self ? (
                          <select
                            aria-label={`Role of ${user.email}`}
                            value={user.role}
                            onChange={(event) =>
                              act.mutate({ path: `/users/${user.id}`, method: 'PATCH', body: { role: event.target.value }, done: `${user.email} is now ${event.target.value}.` })
                            }
                          >
                            <option value="user">user</option>
                            <option value="admin">admin</option>
                            <option value="worker">worker</option>
                          </select>
                        ) : (
                          user.role
                        )}
                      </td>
                      <td>
                        <StateBadge state={banned ? 'banned' : user.status} testId={`status-${user.email}`} />
                        {banned ? (
                          <p className="small muted">
                            until {user.banned_until?.startsWith('9999') ? 'further notice' : <Time iso={user.banned_until} />}
                            {user.ban_reason ? <>: {user.ban_reason}</> : null}
                          </p>
                        ) : null}
                      </td>
                      <td>{user.groups.length ? user.groups.join(', ') : <span className="muted">none</span>}</td>
                      <td>
                        <Time iso={user.created_at} />
                      </td>
                      {canManage ? (
                        <td>
                          <div className="row">
                            {self ? null : banned ? (
                              <Button onClick={() => act.mutate({ path: `/users/${user.id}/unban`, done: `${user.email} is no longer banned.` })} aria-label={`Unban ${user.email}`}>
                                Unban
                              </Button>
                            ) : (
                              <Button variant="danger" onClick={() => setBanning(user)} aria-label={`Ban ${user.email}`}>
                                Ban
                              </Button>
                            )}
                            {groups.data ? (
                              <Button onClick={() => setEditingGroups(user)} aria-label={`Groups of ${user.email}`}>
                                Groups
                              </Button>
                            ) : null}
                          </div>
                        </td>
                      ) : null}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {users.data.items.length === 0 ? <p>No users match these filters.</p> : null}
          <Pager pager={pager} nextCursor={users.data.next_cursor} label="Users" />
        </>
      ) : null}
      <BanDialog user={banning} busy={act.isPending} onCancel={() => setBanning(null)} onBan={(body) => banning && act.mutate({ path: `/users/${banning.id}/ban`, body, done: `${banning.email} is banned.` })} />
      {editingGroups ? (
        <GroupsDialog
          user={editingGroups}
          onClose={async (changed) => {
            setEditingGroups(null);
            if (changed) {
              setNotice(`Groups of ${editingGroups.email} changed.`);
              await refresh();
            }
          }}
        />
      ) : null}
    </Page>
  );
}

/** The ban dialog: a duration and a reason (the user is told it by email). */
function BanDialog({ user, busy, onCancel, onBan }: { user: AdminUser | null; busy: boolean; onCancel: () => void; onBan: (body: { duration_s?: number; reason?: string }) => void }) {
  const [duration, setDuration] = useState('86400');
  const [reason, setReason] = useState('');
  const reasonId = useId();
  const durationId = useId();
  return (
    <ConfirmDialog
      open={user !== null}
      title={user ? `Ban ${user.email}` : 'Ban'}
      confirmLabel="Ban user"
      danger
      busy={busy}
      onCancel={onCancel}
      onConfirm={() => {
        const seconds = duration === 'forever' ? undefined : Number(duration);
        onBan({ ...(seconds ? { duration_s: seconds } : {}), ...(reason.trim() ? { reason: reason.trim() } : {}) });
        setReason('');
      }}
    >
      <p>Every session and API key of this user stops working at once; they are told by email.</p>
      <div className="field">
        <label htmlFor={durationId}>Duration</label>
        <select id={durationId} value={duration} onChange={(event) => setDuration(event.target.value)}>
          {BAN_DURATIONS.map((d) => (
            <option key={d.label} value={d.seconds === null ? 'forever' : String(d.seconds)}>
              {d.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={reasonId}>Reason</label>
        <textarea id={reasonId} value={reason} maxLength={500} rows={3} onChange={(event) => setReason(event.target.value)} />
      </div>
    </ConfirmDialog>
  );
}

/** Group memberships of one user, as checkboxes applied one change at a time. */
function GroupsDialog({ user, onClose }: { user: AdminUser; onClose: (changed: boolean) => void }) {
  // Read again on every opening: groups may have been created since the page loaded.
  const list = useQuery({ queryKey: ['admin', 'groups'], queryFn: () => api<{ items: Group[] }>('/groups'), refetchOnMount: 'always' });
  const groups = list.data?.items ?? [];
  const [member, setMember] = useState(() => new Set(user.groups));
  const [changed, setChanged] = useState(false);
  const setMembership = (group: string, on: boolean) =>
    setMember((current) => {
      const next = new Set(current);
      if (on) next.add(group);
      else next.delete(group);
      return next;
    });
  // The box changes at once (optimistic); a refused change puts it back and shows the problem.
  const toggle = useMutation({
    mutationFn: async ({ group, on }: { group: string; on: boolean }) => {
      await api(`/groups/${encodeURIComponent(group)}/members/${user.id}`, { method: on ? 'PUT' : 'DELETE' });
    },
    onSuccess: () => setChanged(true),
    onError: (_error, { group, on }) => setMembership(group, !on),
  });
  return (
    <ConfirmDialog open title={`Groups of ${user.email}`} confirmLabel="Done" onConfirm={() => onClose(changed)} onCancel={() => onClose(changed)}>
      <ProblemAlert error={toggle.error ?? list.error} />
      {list.isFetching && !list.data ? <Loading label="Loading groups…" /> : null}
      {list.data && groups.length === 0 ? <p>No groups yet.</p> : null}
      <fieldset className="checks">
        <legend>Member of</legend>
        {groups.map((group) => (
          <label key={group.id} className="check">
            <input type="checkbox" checked={member.has(group.name)} disabled={toggle.isPending} onChange={(event) => {
                const on = event.target.checked;
                setMembership(group.name, on);
                toggle.mutate({ group: group.name, on });
              }}
            />{' '}
            {group.name}
            {group.description ? <span className="muted"> — {group.description}</span> : null}
          </label>
        ))}
      </fieldset>
    </ConfirmDialog>
  );
}
