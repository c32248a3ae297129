/** `/admin/outbox`: notification messages pending, sent and failed (dead), with Retry. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { api, type Page as ApiPage } from '../../api/client';
import { Button, Loading, Notice, Page, ProblemAlert, Time } from '../../components/ui';
import { AdminMenu, Pager, StateBadge, useCursorPager } from './common';

/** A message of `GET /api/v1/outbox` (never its body). */
interface OutboxMessage {
  id: string;
  channel: 'email' | 'mattermost' | 'webhook';
  recipient: string;
  subject: string;
  template: string;
  status: 'pending' | 'sent' | 'dead';
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}

const STATUSES: Array<[string, string]> = [
  ['', 'All messages'],
  ['pending', 'Pending'],
  ['sent', 'Sent'],
  ['dead', 'Failed (attempts exhausted)'],
];

export function OutboxPage() {
  const client = useQueryClient();
  const pager = useCursorPager();
  const statusId = useId();
  const [status, setStatus] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const messages = useQuery({
    queryKey: ['outbox', status, pager.cursor],
    queryFn: () => api<ApiPage<OutboxMessage>>('/outbox', { query: { status, limit: 25, cursor: pager.cursor } }),
    placeholderData: keepPreviousData,
  });
  const retry = useMutation({
    mutationFn: (message: OutboxMessage) => api<OutboxMessage>(`/outbox/${message.id}/retry`, { method: 'POST' }),
    onSuccess: async (message) => {
      setNotice(`“${message.subject}” to ${message.recipient} will be sent again now.`);
      await client.invalidateQueries({ queryKey: ['outbox'] });
    },
  });
  return (
    <Page title="Notification outbox" wide>
      <AdminMenu />
      <div className="field inline">
        <label htmlFor={statusId}>Status</label>
        <select
          id={statusId}
          value={status}
          onChange={(event) => {
            setStatus(event.target.value);
            pager.reset();
          }}
        >
          {STATUSES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      {notice ? <Notice>{notice}</Notice> : null}
      <ProblemAlert error={messages.error ?? retry.error} />
      {messages.isPending ? <Loading label="Loading messages…" /> : null}
      {messages.data ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Outbox messages</caption>
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Message</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Attempts
                  </th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {messages.data.items.map((message) => (
                  <tr key={message.id}>
                    <td>
                      <Time iso={message.created_at} />
                    </td>
                    <td>
                      <strong>{message.subject}</strong>
                      <p className="small muted">
                        {message.channel} to {message.recipient} · <code>{message.template}</code>
                      </p>
                      {message.last_error ? <p className="small field-error">{message.last_error}</p> : null}
                    </td>
                    <td>
                      <StateBadge state={message.status} />
                      <p className="small muted">
                        {message.status === 'sent' ? (
                          <>
                            sent <Time iso={message.sent_at} />
                          </>
                        ) : message.status === 'pending' ? (
                          <>
                            next try <Time iso={message.next_attempt_at} />
                          </>
                        ) : null}
                      </p>
                    </td>
                    <td className="num">{message.attempts}</td>
                    <td>
                      {message.status !== 'sent' ? (
                        <Button busy={retry.isPending && retry.variables?.id === message.id} onClick={() => retry.mutate(message)} aria-label={`Retry “${message.subject}” to ${message.recipient}`}>
                          Retry
                        </Button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {messages.data.items.length === 0 ? <p>No messages{status ? ' with this status' : ''}.</p> : null}
          <Pager pager={pager} nextCursor={messages.data.next_cursor} label="Outbox" />
        </>
      ) : null}
    </Page>
  );
}
