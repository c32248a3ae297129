/** `/admin/audit`: the audit log, newest first, with filters and cursor paging. */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, type Page as ApiPage } from '../../api/client';
import { Button, Field, Loading, Page, ProblemAlert, Time } from '../../components/ui';
import { AdminMenu, Pager, useCursorPager } from './common';

/** One entry of `GET /api/v1/audit`. */
interface AuditEntry {
  id: string;
  created_at: string;
  action: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

interface AuditFilters {
  action: string;
  actor_id: string;
  target_id: string;
  since: string;
  until: string;
}

const EMPTY: AuditFilters = { action: '', actor_id: '', target_id: '', since: '', until: '' };

/** `datetime-local` value (local time) to an ISO-8601 UTC string; empty stays empty. */
function toIso(local: string): string {
  return local ? new Date(local).toISOString() : '';
}

export function AuditPage() {
  const pager = useCursorPager();
  const [draft, setDraft] = useState<AuditFilters>(EMPTY);
  const [filters, setFilters] = useState<AuditFilters>(EMPTY);
  const entries = useQuery({
    queryKey: ['admin', 'audit', filters, pager.cursor],
    queryFn: () =>
      api<ApiPage<AuditEntry>>('/audit', {
        query: { action: filters.action.trim(), actor_id: filters.actor_id.trim(), target_id: filters.target_id.trim(), since: toIso(filters.since), until: toIso(filters.until), limit: 25, cursor: pager.cursor },
      }),
    placeholderData: keepPreviousData,
  });
  return (
    <Page title="Audit log" wide>
      <AdminMenu />
      <form
        className="filters"
        role="search"
        aria-label="Filter the audit log"
        onSubmit={(event) => {
          event.preventDefault();
          setFilters(draft);
          pager.reset();
        }}
      >
        <Field label="Action" name="action" value={draft.action} placeholder="e.g. user.ban" maxLength={64} onChange={(event) => setDraft({ ...draft, action: event.target.value })} />
        <Field label="Actor id" name="actor_id" value={draft.actor_id} maxLength={36} onChange={(event) => setDraft({ ...draft, actor_id: event.target.value })} />
        <Field label="Target id" name="target_id" value={draft.target_id} maxLength={100} onChange={(event) => setDraft({ ...draft, target_id: event.target.value })} />
        <Field label="Since" name="since" type="datetime-local" value={draft.since} onChange={(event) => setDraft({ ...draft, since: event.target.value })} />
        <Field label="Until" name="until" type="datetime-local" value={draft.until} onChange={(event) => setDraft({ ...draft, until: event.target.value })} />
        <div className="filter-actions row">
          <Button type="submit" variant="primary">
            Apply filters
          </Button>
          <Button
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
              pager.reset();
            }}
          >
            Clear
          </Button>
        </div>
      </form>
      <ProblemAlert error={entries.error} />
      {entries.isPending ? <Loading label="Loading the audit log…" /> : null}
      {entries.data ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Audit log entries</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Target</th>
                  <th scope="col">From</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {entries.data.items.map((entry) => (
                  <tr key={entry.id}>
                    <td>
                      <Time iso={entry.created_at} />
                    </td>
                    <td>
                      <code>{entry.action}</code>
                    </td>
                    <td className="id">{entry.actor_id ?? <span className="muted">system</span>}</td>
                    <td className="id">{entry.target_id ? `${entry.target_type ?? ''} ${entry.target_id}` : '—'}</td>
                    <td>{entry.ip ?? '—'}</td>
                    <td className="details">
                      {Object.keys(entry.details).length ? (
                        <dl className="kv">
                          {Object.entries(entry.details).map(([key, value]) => (
                            <div key={key}>
                              <dt>{key}</dt>
                              <dd>{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
                            </div>
                          ))}
                        </dl>
                      ) : (
                        '—'
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {entries.data.items.length === 0 ? <p>No entries match these filters.</p> : null}
          <Pager pager={pager} nextCursor={entries.data.next_cursor} label="Audit log" />
        </>
      ) : null}
    </Page>
  );
}
