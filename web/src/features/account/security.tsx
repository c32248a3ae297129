/**
 * `/account/security`: two-factor authentication (TOTP enrolment with the server's QR code,
 * confirmation, recovery codes shown once, new recovery codes, turning it off with password +
 * code) and passkeys (add with `navigator.credentials.create`, rename, remove). Replaces the
 * server-rendered page that lived at the same address.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, ApiError } from '../../api/client';
import { Button, ConfirmDialog, Field, Loading, Notice, ProblemAlert, Time } from '../../components/ui';
import { AccountPage } from './shell';
import { createPasskey, type CreationOptionsJson, passkeysSupported } from './webauthn';

/** `GET /api/v1/users/me/mfa`. */
interface MfaStatus {
  totp_enabled: boolean;
  totp_enabled_at: string | null;
  recovery_codes_remaining: number;
  passkeys: number;
  required: boolean;
}

/** A passkey as listed. */
interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  device_type: string;
  backed_up: boolean;
}

const MFA_KEY = ['account', 'mfa'] as const;
const PASSKEYS_KEY = ['account', 'passkeys'] as const;

function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <section className="card alert warning" aria-labelledby="recovery-heading">
      <h3 id="recovery-heading">Your recovery codes</h3>
      <p>
        <strong>Store them somewhere safe now: they are shown only this once.</strong> Each one signs you in once if you lose your authenticator.
      </p>
      <ul className="codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>{code}</li>
        ))}
      </ul>
    </section>
  );
}

function codeBody(code: string): { code?: string; recovery_code?: string } {
  const trimmed = code.trim();
  return /^\d{6}$/.test(trimmed) ? { code: trimmed } : { recovery_code: trimmed };
}

function TwoFactor() {
  const client = useQueryClient();
  const status = useQuery({ queryKey: MFA_KEY, queryFn: () => api<MfaStatus>('/users/me/mfa') });
  const [enrolment, setEnrolment] = useState<{ secret: string; qr_svg: string } | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [regenCode, setRegenCode] = useState('');
  const [offPassword, setOffPassword] = useState('');
  const [offCode, setOffCode] = useState('');
  const refresh = () => client.invalidateQueries({ queryKey: MFA_KEY });
  const begin = useMutation({
    mutationFn: () => api<{ secret: string; otpauth_uri: string; qr_svg: string }>('/users/me/mfa/totp', { method: 'POST' }),
    onSuccess: (result) => {
      setCodes(null);
      setMessage(null);
      setEnrolment(result);
    },
  });
  const confirm = useMutation({
    mutationFn: () => api<{ recovery_codes: string[] }>('/users/me/mfa/totp/confirm', { method: 'POST', body: { code: code.trim() } }),
    onSuccess: (result) => {
      setEnrolment(null);
      setCode('');
      setCodes(result.recovery_codes);
      setMessage('Two-factor authentication is on. From now on, signing in asks for a code from your app.');
      void refresh();
    },
  });
  const regenerate = useMutation({
    mutationFn: () => api<{ recovery_codes: string[] }>('/users/me/mfa/recovery-codes', { method: 'POST', body: codeBody(regenCode) }),
    onSuccess: (result) => {
      setRegenCode('');
      setCodes(result.recovery_codes);
      setMessage('New recovery codes replace the old ones, which no longer work.');
      void refresh();
    },
  });
  const disable = useMutation({
    mutationFn: () => api('/users/me/mfa/totp/disable', { method: 'POST', body: { password: offPassword, ...codeBody(offCode) } }),
    onSuccess: () => {
      setOffPassword('');
      setOffCode('');
      setCodes(null);
      setMessage('Two-factor authentication is off.');
      void refresh();
    },
  });
  const submit = (run: () => void) => (event: FormEvent) => {
    event.preventDefault();
    run();
  };
  if (status.isPending) return <Loading />;
  if (status.error) return <ProblemAlert error={status.error} />;
  const s = status.data;
  const confirmError = confirm.error instanceof ApiError ? confirm.error : undefined;
  return (
    <section aria-labelledby="totp-heading">
      <h2 id="totp-heading">Two-factor authentication</h2>
      <p role="status">
        {s.totp_enabled
          ? `Two-factor authentication is on (${s.recovery_codes_remaining} recovery codes left).`
          : s.required
            ? 'A group you belong to requires two-factor authentication: turn it on to continue.'
            : 'Two-factor authentication is off.'}
      </p>
      {message ? <Notice>{message}</Notice> : null}
      {codes ? <RecoveryCodes codes={codes} /> : null}
      {!s.totp_enabled && !enrolment ? (
        <>
          <ProblemAlert error={begin.error} />
          <Button variant="primary" busy={begin.isPending} onClick={() => begin.mutate()}>
            Set up an authenticator app
          </Button>
        </>
      ) : null}
      {enrolment ? (
        <form className="card narrow" onSubmit={submit(() => confirm.mutate())} noValidate>
          <p>Scan this code with your authenticator app (or type the key), then enter the 6-digit code it shows.</p>
          <img className="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`} alt="QR code of your authenticator key" />
          <p>
            Key: <code aria-label="Authenticator key">{enrolment.secret}</code>
          </p>
          <ProblemAlert error={confirm.error} />
          <Field
            label="Code from the app"
            name="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={16}
            required
            value={code}
            onChange={(e) => setCode(e.target.value)}
            error={confirmError?.fieldMessage('code')}
          />
          <div className="row">
            <Button type="submit" variant="primary" busy={confirm.isPending}>
              Turn on
            </Button>
            <Button onClick={() => setEnrolment(null)}>Cancel</Button>
          </div>
        </form>
      ) : null}
      {s.totp_enabled ? (
        <>
          <details>
            <summary>Get new recovery codes</summary>
            <form className="card narrow inline-form" onSubmit={submit(() => regenerate.mutate())} noValidate>
              <ProblemAlert error={regenerate.error} />
              <Field label="Code from your app (or a recovery code)" name="regenerate_code" autoComplete="one-time-code" required value={regenCode} onChange={(e) => setRegenCode(e.target.value)} />
              <Button type="submit" busy={regenerate.isPending}>
                Replace recovery codes
              </Button>
            </form>
          </details>
          <details>
            <summary>Turn two-factor authentication off</summary>
            <form className="card narrow" onSubmit={submit(() => disable.mutate())} noValidate>
              <ProblemAlert error={disable.error} />
              <Field label="Password" name="off_password" type="password" autoComplete="current-password" required value={offPassword} onChange={(e) => setOffPassword(e.target.value)} />
              <Field label="Code from your app (or a recovery code)" name="off_code" autoComplete="one-time-code" required value={offCode} onChange={(e) => setOffCode(e.target.value)} />
              <Button type="submit" variant="danger" busy={disable.isPending}>
                Turn off
              </Button>
            </form>
          </details>
        </>
      ) : null}
    </section>
  );
}

function PasskeyRow({ passkey, onRemove }: { passkey: Passkey; onRemove: () => void }) {
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(passkey.name);
  const rename = useMutation({
    mutationFn: () => api<Passkey>(`/users/me/passkeys/${passkey.id}`, { method: 'PATCH', body: { name: name.trim() } }),
    onSuccess: () => {
      setEditing(false);
      return client.invalidateQueries({ queryKey: PASSKEYS_KEY });
    },
  });
  return (
    <li>
      {editing ? (
        <form
          className="inline-form item-main"
          onSubmit={(event) => {
            event.preventDefault();
            rename.mutate();
          }}
        >
          <ProblemAlert error={rename.error} />
          <Field label={`New name for ${passkey.name}`} name="passkey_rename" maxLength={100} required value={name} onChange={(e) => setName(e.target.value)} />
          <Button type="submit" variant="primary" busy={rename.isPending}>
            Save name
          </Button>
          <Button onClick={() => setEditing(false)}>Cancel</Button>
        </form>
      ) : (
        <>
          <div className="item-main">
            <p>
              <strong>{passkey.name}</strong>
              {passkey.backed_up ? <span className="badge">synced</span> : null}
            </p>
            <p className="muted">
              added <Time iso={passkey.created_at} /> · last used {passkey.last_used_at ? <Time iso={passkey.last_used_at} /> : 'never'}
            </p>
          </div>
          <div className="row">
            <Button aria-label={`Rename ${passkey.name}`} onClick={() => setEditing(true)}>
              Rename
            </Button>
            <Button variant="danger" aria-label={`Remove ${passkey.name}`} onClick={onRemove}>
              Remove
            </Button>
          </div>
        </>
      )}
    </li>
  );
}

function Passkeys() {
  const client = useQueryClient();
  const passkeys = useQuery({ queryKey: PASSKEYS_KEY, queryFn: () => api<{ items: Passkey[] }>('/users/me/passkeys') });
  const [name, setName] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Passkey | null>(null);
  const refresh = () => Promise.all([client.invalidateQueries({ queryKey: PASSKEYS_KEY }), client.invalidateQueries({ queryKey: MFA_KEY })]);
  const add = useMutation({
    mutationFn: async () => {
      if (!passkeysSupported()) throw new Error('This browser does not support passkeys.');
      const options = await api<CreationOptionsJson>('/users/me/passkeys/options', { method: 'POST' });
      let credential: unknown;
      try {
        credential = await createPasskey(options);
      } catch (error) {
        throw new Error(`No passkey was created: ${(error as Error).message}`);
      }
      return api<Passkey>('/users/me/passkeys', { method: 'POST', body: { response: credential, ...(name.trim() ? { name: name.trim() } : {}) } });
    },
    onSuccess: (passkey) => {
      setName('');
      setMessage(`Passkey “${passkey.name}” added. You can now sign in with it, without a password.`);
      return refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (passkey: Passkey) => api(`/users/me/passkeys/${passkey.id}`, { method: 'DELETE' }),
    onSuccess: (_result, passkey) => setMessage(`Passkey “${passkey.name}” removed.`),
    onSettled: () => {
      setRemoving(null);
      return refresh();
    },
  });
  return (
    <section aria-labelledby="passkeys-heading">
      <h2 id="passkeys-heading">Passkeys</h2>
      <p className="muted">Sign in without a password, with your device’s screen lock or a security key.</p>
      {message ? <Notice>{message}</Notice> : null}
      <ProblemAlert error={passkeys.error ?? remove.error} />
      {passkeys.isPending ? <Loading /> : null}
      {passkeys.data?.items.length === 0 ? <p>No passkeys yet.</p> : null}
      {passkeys.data && passkeys.data.items.length > 0 ? (
        <ul className="item-list" aria-label="Your passkeys">
          {passkeys.data.items.map((passkey) => (
            <PasskeyRow key={passkey.id} passkey={passkey} onRemove={() => setRemoving(passkey)} />
          ))}
        </ul>
      ) : null}
      <form
        className="card narrow"
        onSubmit={(event) => {
          event.preventDefault();
          add.mutate();
        }}
      >
        <ProblemAlert error={add.error} />
        <Field label="Name of the new passkey" name="passkey_name" maxLength={100} placeholder="e.g. Laptop" value={name} onChange={(e) => setName(e.target.value)} />
        <Button type="submit" variant="primary" busy={add.isPending}>
          Add a passkey
        </Button>
      </form>
      <ConfirmDialog
        open={removing !== null}
        title="Remove this passkey?"
        confirmLabel="Remove passkey"
        danger
        busy={remove.isPending}
        onConfirm={() => removing && remove.mutate(removing)}
        onCancel={() => setRemoving(null)}
      >
        <p>“{removing?.name}” will no longer sign you in.</p>
      </ConfirmDialog>
    </section>
  );
}

/** The two-factor and passkeys page. */
export function SecurityPage() {
  return (
    <AccountPage title="Two-factor authentication and passkeys">
      {() => (
        <>
          <TwoFactor />
          <Passkeys />
        </>
      )}
    </AccountPage>
  );
}
