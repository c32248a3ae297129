/**
 * `/account/email` (change your address: `POST /api/v1/users/me/email`, confirmed by the emailed
 * link) and `/account/password` (`POST /api/v1/auth/password/change`).
 */
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, ApiError } from '../../api/client';
import { type Me } from '../../api/session';
import { Button, Field, Notice, ProblemAlert } from '../../components/ui';
import { AccountPage } from './shell';

function EmailForm({ me }: { me: Me }) {
  const [newEmail, setNewEmail] = useState('');
  const [password, setPassword] = useState('');
  const change = useMutation({
    mutationFn: () => api<{ message: string }>('/users/me/email', { method: 'POST', body: { new_email: newEmail.trim(), password } }),
    onSuccess: () => setPassword(''),
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    change.mutate();
  };
  const error = change.error instanceof ApiError ? change.error : undefined;
  return (
    <>
      <p>
        Your address is <strong>{me.email}</strong>
        {me.email_verified ? ' (verified)' : ' (not verified yet)'}.
      </p>
      <p className="muted">
        We send a link to the new address. Your address changes only when you open that link and press its button; until then you keep signing in with
        the current one. The link works once and expires.
      </p>
      <form className="card narrow" onSubmit={onSubmit} noValidate>
        {change.isSuccess ? <Notice>{change.data.message} The link is valid for a limited time.</Notice> : null}
        <ProblemAlert error={change.error} />
        <Field label="New email address" name="new_email" type="email" autoComplete="email" required value={newEmail} onChange={(e) => setNewEmail(e.target.value)} error={error?.fieldMessage('new_email')} />
        <Field
          label="Current password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={error?.fieldMessage('password') ?? (error?.code === 'invalid_current_password' ? 'This is not your current password.' : undefined)}
        />
        <Button type="submit" variant="primary" busy={change.isPending}>
          Send confirmation link
        </Button>
      </form>
    </>
  );
}

/** The email change page. */
export function EmailPage() {
  return <AccountPage title="Email address">{(me) => <EmailForm me={me} />}</AccountPage>;
}

function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [revokeKeys, setRevokeKeys] = useState(true);
  const [mismatch, setMismatch] = useState(false);
  const change = useMutation({
    mutationFn: () => api('/auth/password/change', { method: 'POST', body: { current_password: current, new_password: next, revoke_api_keys: revokeKeys } }),
    onSuccess: () => {
      setCurrent('');
      setNext('');
      setConfirm('');
    },
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const differs = next !== confirm;
    setMismatch(differs);
    if (!differs) change.mutate();
  };
  const error = change.error instanceof ApiError ? change.error : undefined;
  return (
    <form className="card narrow" onSubmit={onSubmit} noValidate>
      <p className="muted">Changing your password signs you out on every other device and ends their tokens. This session stays signed in.</p>
      {change.isSuccess ? <Notice>Your password was changed. Other sessions were signed out.</Notice> : null}
      <ProblemAlert error={change.error} />
      <Field
        label="Current password"
        name="current_password"
        type="password"
        autoComplete="current-password"
        required
        value={current}
        onChange={(e) => setCurrent(e.target.value)}
        error={error?.fieldMessage('current_password') ?? (error?.code === 'invalid_current_password' ? 'This is not your current password.' : undefined)}
      />
      <Field
        label="New password"
        name="new_password"
        type="password"
        autoComplete="new-password"
        required
        value={next}
        onChange={(e) => setNext(e.target.value)}
        hint="A long passphrase of unrelated words is strongest."
        error={error?.fieldMessage('new_password') ?? (error?.code === 'weak_password' ? error.message : undefined)}
      />
      <Field
        label="Repeat the new password"
        name="confirm_password"
        type="password"
        autoComplete="new-password"
        required
        value={confirm}
        onChange={(e) => setConfirm(e.target.value)}
        error={mismatch ? 'The two new passwords differ.' : undefined}
      />
      <div className="field">
        <label>
          <input type="checkbox" checked={revokeKeys} onChange={(e) => setRevokeKeys(e.target.checked)} /> Also revoke all my API keys
        </label>
      </div>
      <Button type="submit" variant="primary" busy={change.isPending}>
        Change password
      </Button>
    </form>
  );
}

/** The password change page. */
export function PasswordPage() {
  return <AccountPage title="Password">{() => <PasswordForm />}</AccountPage>;
}
