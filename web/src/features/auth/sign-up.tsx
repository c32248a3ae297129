/**
 * `/sign-up`: name (optional), email and password (`POST /api/v1/auth/register`). With email
 * verification on the server always answers 202 (no account enumeration) and the page says to
 * open the emailed link; without it the account exists at once and the page links to sign-in.
 */
import { Link } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import { api, ApiError } from '../../api/client';
import { useMe, useMeta } from '../../api/session';
import { Button, Field, Loading, Notice, Page, ProblemAlert } from '../../components/ui';

/** The sign-up page. */
export function SignUpPage() {
  const meta = useMeta();
  const me = useMe();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [outcome, setOutcome] = useState<'check_inbox' | 'created' | null>(null);

  if (!meta.data) return <Loading />;
  if (meta.data.features.registration === false) {
    return (
      <Page title="Create an account">
        <p>This server does not take new sign-ups. Ask its administrator for an account.</p>
      </Page>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { email, password, ...(name.trim() ? { name: name.trim() } : {}) };
      const created = await api<{ user?: unknown }>('/auth/register', { method: 'POST', body });
      setOutcome(created?.user ? 'created' : 'check_inbox');
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const problem = error instanceof ApiError ? error : undefined;
  const passwordError = problem?.code === 'weak_password' ? problem.message : problem?.fieldMessage('password');

  return (
    <Page title="Create an account">
      {me.data ? (
        <Notice>
          You are signed in as {me.data.email}. <Link to="/">Go to the home page</Link>
        </Notice>
      ) : null}
      {outcome === 'check_inbox' ? (
        <Notice>
          <p>
            Check your inbox: we sent a link to <strong>{email}</strong> to confirm your email address. Open it, press the button, then sign in.
          </p>
        </Notice>
      ) : outcome === 'created' ? (
        <Notice>
          <p>
            Your account is ready. <Link to="/sign-in">Sign in</Link>
          </p>
        </Notice>
      ) : (
        <div className="card narrow auth-card">
          <ProblemAlert error={error} />
          <form onSubmit={submit}>
            <Field label="Name" name="name" type="text" autoComplete="name" maxLength={200} hint="Optional: how others see you." value={name} onChange={(event) => setName(event.target.value)} />
            <Field
              label="Email address"
              name="email"
              type="email"
              autoComplete="email"
              maxLength={254}
              required
              error={problem?.fieldMessage('email')}
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
            <Field
              label="Password"
              name="password"
              type="password"
              autoComplete="new-password"
              minLength={10}
              maxLength={256}
              required
              hint="At least 10 characters; a long phrase is easiest to remember."
              error={passwordError}
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            <Button type="submit" variant="primary" busy={busy} className="wide-button">
              Create account
            </Button>
          </form>
        </div>
      )}
      <p className="auth-footnote">
        Already have an account? <Link to="/sign-in">Sign in</Link>
      </p>
    </Page>
  );
}
