/** `/account/sessions`: where you are signed in (`GET /api/v1/auth/sessions`); revoke one, or all others. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import { Button, ConfirmDialog, Loading, Notice, ProblemAlert, Time } from '../../components/ui';
import { AccountPage } from './shell';

/** A session as `GET /api/v1/auth/sessions` lists it. */
interface SessionItem {
  id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

const SESSIONS_KEY = ['account', 'sessions'] as const;

/** "Chrome on Linux" from a User-Agent string (a rough reading, for people: the full string is in the title). */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /(Chrome|Chromium)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : /curl\//i.test(userAgent)
            ? 'curl'
            : null;
  const os = /Android/.test(userAgent)
    ? 'Android'
    : /iPhone|iPad/.test(userAgent)
      ? 'iOS'
      : /Windows/.test(userAgent)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? userAgent.slice(0, 40);
}

function SessionList() {
  const client = useQueryClient();
  const sessions = useQuery({ queryKey: SESSIONS_KEY, queryFn: () => api<{ items: SessionItem[] }>('/auth/sessions') });
  const [confirmAll, setConfirmAll] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const revoke = useMutation({
    mutationFn: (id: string) => api(`/auth/sessions/${id}`, { method: 'DELETE' }),
    onSuccess: () => setDone('The session was signed out.'),
    onSettled: () => client.invalidateQueries({ queryKey: SESSIONS_KEY }),
  });
  const others = sessions.data?.items.filter((s) => !s.current) ?? [];
  const revokeOthers = useMutation({
    mutationFn: async () => {
      for (const session of others) await api(`/auth/sessions/${session.id}`, { method: 'DELETE' });
    },
    onSuccess: () => {
      setConfirmAll(false);
      setDone('Every other session was signed out.');
    },
    onSettled: () => client.invalidateQueries({ queryKey: SESSIONS_KEY }),
  });
  if (sessions.isPending) return <Loading />;
  if (sessions.error) return <ProblemAlert error={sessions.error} />;
  // This device first, then the others as the server orders them.
  const ordered = [...sessions.data.items].sort((a, b) => Number(b.current) - Number(a.current));
  return (
    <>
      <p className="muted">Browsers and apps signed in to your account. Sign out any you do not recognise, then change your password.</p>
      {done ? <Notice>{done}</Notice> : null}
      <ProblemAlert error={revoke.error ?? revokeOthers.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Your active sessions</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">IP address</th>
              <th scope="col">Last seen</th>
              <th scope="col">Signed in</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {ordered.map((session) => (
              <tr key={session.id} className={session.current ? 'highlight' : undefined}>
                <td title={session.user_agent ?? undefined}>
                  {describeDevice(session.user_agent)} {session.current ? <span className="badge ok">This device</span> : null}
                </td>
                <td>{session.ip ?? '—'}</td>
                <td>
                  <Time iso={session.last_seen_at} />
                </td>
                <td>
                  <Time iso={session.created_at} />
                </td>
                <td>
                  {session.current ? null : (
                    <Button
                      aria-label={`Sign out ${describeDevice(session.user_agent)}, last seen ${new Date(session.last_seen_at).toLocaleString()}`}
                      busy={revoke.isPending && revoke.variables === session.id}
                      onClick={() => revoke.mutate(session.id)}
                    >
                      Sign out
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Button variant="danger" disabled={others.length === 0} onClick={() => setConfirmAll(true)}>
        Sign out all other sessions
      </Button>
      <ConfirmDialog
        open={confirmAll}
        title="Sign out everywhere else?"
        confirmLabel="Sign them out"
        danger
        busy={revokeOthers.isPending}
        onConfirm={() => revokeOthers.mutate()}
        onCancel={() => setConfirmAll(false)}
      >
        <p>
          {others.length} other {others.length === 1 ? 'session' : 'sessions'} will be signed out. This one stays.
        </p>
      </ConfirmDialog>
    </>
  );
}

/** The sessions page. */
export function SessionsPage() {
  return <AccountPage title="Sessions">{() => <SessionList />}</AccountPage>;
}
