/**
 * `/account/api-keys`: your API keys (`GET /api/v1/api-keys`), a new one with a name, scopes and
 * an expiry (`POST /api/v1/api-keys`; its secret shown this once, with a copy button), revoke
 * with confirmation (`DELETE /api/v1/api-keys/{id}`).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { api, ApiError, type Page } from '../../api/client';
import { Button, ConfirmDialog, Field, Loading, Notice, ProblemAlert, Time } from '../../components/ui';
import { AccountPage } from './shell';

/** A key as listed (never its secret). */
interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

const KEYS_KEY = ['account', 'api-keys'] as const;

/** Scopes offered as checkboxes (a key can never do more than you can; others may be typed). */
const SCOPES = [
  { scope: 'account:self', help: 'Your own account: profile, sessions, keys' },
  { scope: 'jobs:enqueue', help: 'Create jobs' },
  { scope: 'jobs:read', help: 'Read your jobs and their events' },
  { scope: 'jobs:control', help: 'Pause, resume, cancel, retry your jobs' },
  { scope: 'jobs:claim', help: 'Work on jobs (workers)' },
  { scope: 'files:read', help: 'Download your files' },
  { scope: 'files:write', help: 'Upload files' },
  { scope: 'events:read', help: 'Follow live job events' },
] as const;

/** Expiry choices, in seconds (`expires_in`); empty = never. */
const EXPIRIES = [
  { label: '30 days', seconds: 30 * 86_400 },
  { label: '7 days', seconds: 7 * 86_400 },
  { label: '90 days', seconds: 90 * 86_400 },
  { label: '1 year', seconds: 365 * 86_400 },
  { label: 'Never', seconds: 0 },
] as const;

function CreatedSecret({ secret, name, onDone }: { secret: string; name: string; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section className="card alert warning" aria-labelledby="new-key-heading">
      <h2 id="new-key-heading">Your new key “{name}”</h2>
      <p>
        <strong>Copy it now: it is shown only this once.</strong> Store it like a password; anyone who has it can act as you within its scopes.
      </p>
      <p className="secret" aria-label="New API key secret">
        {secret}
      </p>
      <div className="row">
        <Button variant="primary" onClick={copy}>
          Copy the key
        </Button>
        <Button onClick={onDone}>I have stored it</Button>
      </div>
      <p role="status">{copied === 'yes' ? 'Copied to the clipboard.' : copied === 'failed' ? 'The browser refused to copy: select the key and copy it by hand.' : ''}</p>
    </section>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (created: { key: ApiKey; secret: string }) => void }) {
  const client = useQueryClient();
  const expiryId = useId();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['account:self']);
  const [extra, setExtra] = useState('');
  const [expiry, setExpiry] = useState<number>(EXPIRIES[0].seconds);
  const [password, setPassword] = useState('');
  const [needsPassword, setNeedsPassword] = useState(false);
  const create = useMutation({
    mutationFn: () => {
      const all = [...new Set([...scopes, ...extra.split(/[\s,]+/).filter(Boolean)])];
      return api<{ key: ApiKey; secret: string }>('/api-keys', {
        method: 'POST',
        body: { name: name.trim(), scopes: all, ...(expiry ? { expires_in: expiry } : {}), ...(password ? { password } : {}) },
      });
    },
    onSuccess: (created) => {
      setName('');
      setPassword('');
      setNeedsPassword(false);
      onCreated(created);
      void client.invalidateQueries({ queryKey: KEYS_KEY });
    },
    onError: (error) => {
      if (error instanceof ApiError && error.code === 'reauthentication_required') setNeedsPassword(true);
    },
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  const error = create.error instanceof ApiError ? create.error : undefined;
  return (
    <form className="card" onSubmit={onSubmit} noValidate aria-labelledby="create-key-heading">
      <h2 id="create-key-heading">Create a key</h2>
      <ProblemAlert error={create.error} />
      <Field label="Key name" name="name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} hint="What or where it is used, e.g. “laptop worker”." error={error?.fieldMessage('name')} />
      <fieldset>
        <legend>Permissions (scopes)</legend>
        <div className="checks">
          {SCOPES.map(({ scope, help }) => (
            <label key={scope}>
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(e) => setScopes((current) => (e.target.checked ? [...current, scope] : current.filter((s) => s !== scope)))}
              />
              <span>
                <code>{scope}</code>
                <span className="hint">{help}</span>
              </span>
            </label>
          ))}
        </div>
        <Field label="Other scopes" name="extra_scopes" value={extra} onChange={(e) => setExtra(e.target.value)} hint="Separated by spaces or commas, e.g. challenges:submit." error={error?.fieldMessage('scopes')} />
      </fieldset>
      <div className="field">
        <label htmlFor={expiryId}>Expires after</label>
        <select id={expiryId} name="expires_in" value={expiry} onChange={(e) => setExpiry(Number(e.target.value))}>
          {EXPIRIES.map((option) => (
            <option key={option.label} value={option.seconds}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
      <Field
        label="Current password"
        name="password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        hint={needsPassword ? 'Confirm it is you: enter your password.' : 'Needed when you signed in more than a few minutes ago.'}
        error={needsPassword && !password ? 'Your password is needed to create a key.' : undefined}
      />
      <Button type="submit" variant="primary" busy={create.isPending}>
        Create key
      </Button>
    </form>
  );
}

function KeyList() {
  const client = useQueryClient();
  const keys = useQuery({ queryKey: KEYS_KEY, queryFn: () => api<Page<ApiKey>>('/api-keys', { query: { limit: 100 } }) });
  const [created, setCreated] = useState<{ key: ApiKey; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [revoked, setRevoked] = useState<string | null>(null);
  const revoke = useMutation({
    mutationFn: (key: ApiKey) => api(`/api-keys/${key.id}`, { method: 'DELETE' }),
    onSuccess: (_result, key) => {
      setRevoking(null);
      setRevoked(key.name);
    },
    onSettled: () => client.invalidateQueries({ queryKey: KEYS_KEY }),
  });
  return (
    <>
      <p className="muted">
        Programs use a key as <code>Authorization: Bearer gh_…</code>. A key can do only what its scopes allow, and never more than you can.
      </p>
      {created ? <CreatedSecret secret={created.secret} name={created.key.name} onDone={() => setCreated(null)} /> : null}
      {revoked ? <Notice>The key “{revoked}” was revoked.</Notice> : null}
      <h2>Your keys</h2>
      {keys.isPending ? <Loading /> : null}
      <ProblemAlert error={keys.error ?? revoke.error} />
      {keys.data && keys.data.items.length === 0 ? <p>You have no API keys.</p> : null}
      {keys.data && keys.data.items.length > 0 ? (
        <ul className="item-list" aria-label="API keys">
          {keys.data.items.map((key) => (
            <li key={key.id}>
              <div className="item-main">
                <p>
                  <strong>{key.name}</strong> <code>gh_{key.prefix}_…</code>
                </p>
                <p className="muted">
                  {key.scopes.join(', ')} · created <Time iso={key.created_at} /> · last used {key.last_used_at ? <Time iso={key.last_used_at} /> : 'never'} ·{' '}
                  {key.expires_at ? (
                    <>
                      expires <Time iso={key.expires_at} />
                    </>
                  ) : (
                    'never expires'
                  )}
                </p>
              </div>
              <Button variant="danger" aria-label={`Revoke ${key.name}`} onClick={() => setRevoking(key)}>
                Revoke
              </Button>
            </li>
          ))}
        </ul>
      ) : null}
      <CreateKeyForm
        onCreated={(result) => {
          setRevoked(null);
          setCreated(result);
        }}
      />
      <ConfirmDialog
        open={revoking !== null}
        title="Revoke this key?"
        confirmLabel="Revoke key"
        danger
        busy={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        onCancel={() => setRevoking(null)}
      >
        <p>
          Programs using “{revoking?.name}” stop working at once. This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}

/** The API keys page. */
export function ApiKeysPage() {
  return <AccountPage title="API keys">{() => <KeyList />}</AccountPage>;
}
