/**
 * `/forgot-password` (email a reset link: `POST /api/v1/auth/password/forgot`, always the same
 * answer, so nobody learns whether an address has an account) and `/reset-password?token=` (a new
 * password: `POST /api/v1/auth/password/reset`, which signs the person out everywhere). The reset
 * page does nothing until its form is sent; the token leaves the address bar on arrival.
 */
import { useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { api, ApiError } from '../../api/client';
import { ME_KEY } from '../../api/session';
import { Button, Field, Notice, Page, ProblemAlert } from '../../components/ui';
import { useUrlSecret } from './navigation';

/** `/forgot-password`. */
export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/auth/password/forgot', { method: 'POST', body: { email } });
      setSent(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Forgot your password?">
      {sent ? (
        <Notice>If this email has an account, a reset link is on its way. Check your inbox.</Notice>
      ) : (
        <div className="card narrow auth-card">
          <p>Enter your account's email address and we will send you a link to choose a new password.</p>
          <ProblemAlert error={error} />
          <form onSubmit={submit}>
            <Field label="Email address" name="email" type="email" autoComplete="email" maxLength={254} required value={email} onChange={(event) => setEmail(event.target.value)} />
            <Button type="submit" variant="primary" busy={busy}>
              Send the link
            </Button>
          </form>
        </div>
      )}
      <p className="auth-footnote">
        <Link to="/sign-in">Back to sign-in</Link>
      </p>
    </Page>
  );
}

/** `/reset-password?token=`. */
export function ResetPasswordPage() {
  const client = useQueryClient();
  const token = useUrlSecret('token');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (password !== confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    setBusy(true);
    try {
      await api('/auth/password/reset', { method: 'POST', body: { token, password } });
      // Every session of the account ended, this browser's included.
      client.setQueryData(ME_KEY, null);
      setDone(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  if (!token) {
    return (
      <Page title="Choose a new password">
        <ProblemAlert error={new Error('This link has no token. Open the link from the email again.')} />
        <p>
          <Link to="/forgot-password">Ask for a new link</Link>
        </p>
      </Page>
    );
  }
  const problem = error instanceof ApiError ? error : undefined;
  return (
    <Page title="Choose a new password">
      {done ? (
        <>
          <Notice>Your password was changed and you were signed out everywhere. Sign in with the new password.</Notice>
          <p>
            <Link to="/sign-in">Sign in</Link>
          </p>
        </>
      ) : (
        <div className="card narrow auth-card">
          <p>At least 10 characters; a long phrase is easiest to remember. You will be signed out everywhere.</p>
          <ProblemAlert error={error} />
          {problem?.code === 'invalid_token' ? (
            <p>
              <Link to="/forgot-password">Ask for a new link</Link>
            </p>
          ) : null}
          <form onSubmit={submit}>
            <Field
              label="New password"
              name="password"
              type="password"
              autoComplete="new-password"
              minLength={10}
              maxLength={256}
              required
              error={problem?.code === 'weak_password' ? problem.message : problem?.fieldMessage('password')}
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            <Field
              label="Repeat the new password"
              name="confirm"
              type="password"
              autoComplete="new-password"
              minLength={10}
              maxLength={256}
              required
              error={mismatch ? 'The two passwords differ.' : undefined}
              value={confirm}
              onChange={(event) => setConfirm(event.target.value)}
            />
            <Button type="submit" variant="primary" busy={busy}>
              Set new password
            </Button>
          </form>
        </div>
      )}
    </Page>
  );
}
