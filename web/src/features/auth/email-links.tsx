/**
 * The pages emailed links open: `/verify-email?token=`, `/confirm-email?token=` (an email
 * change) and `/link-account?token=` (link a social provider account by email). They never act on
 * opening (mail scanners prefetch links): the person presses the button, which POSTs the token.
 * The token leaves the address bar as soon as the page has read it.
 *
 * `/link-account` without a token is the social sign-in's linking step: the provider's verified
 * email belongs to an existing account, so its owner proves it with the password
 * (`POST /api/v1/auth/oauth/link`) or asks for a confirmation email instead
 * (`POST /api/v1/auth/oauth/link/email`). The pending link lives in an HttpOnly cookie the
 * callback set; `GET /api/v1/auth/oauth/link` says which provider and account it concerns.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, type ReactNode, useState } from 'react';
import { api } from '../../api/client';
import { ME_KEY, useMe } from '../../api/session';
import { Button, Field, Loading, Notice, Page, ProblemAlert } from '../../components/ui';
import { safeNext, useGoTo, useUrlSecret } from './navigation';

const NO_TOKEN = new Error('This link has no token. Open the link from the email again.');

/** One emailed link's page: an explanation, one button that POSTs the token, the outcome. */
function TokenActionPage({
  title,
  explanation,
  buttonLabel,
  action,
  done,
}: {
  title: string;
  explanation: ReactNode;
  buttonLabel: string;
  action: (token: string) => Promise<ReactNode>;
  done?: ReactNode;
}) {
  const token = useUrlSecret('token');
  const mutation = useMutation({ mutationFn: action });
  if (!token) {
    return (
      <Page title={title}>
        <ProblemAlert error={NO_TOKEN} />
      </Page>
    );
  }
  return (
    <Page title={title}>
      {mutation.isSuccess ? (
        <>
          <Notice>{mutation.data}</Notice>
          {done}
        </>
      ) : (
        <div className="card narrow auth-card">
          <p>{explanation}</p>
          <ProblemAlert error={mutation.error} />
          <Button variant="primary" busy={mutation.isPending} onClick={() => mutation.mutate(token)}>
            {buttonLabel}
          </Button>
        </div>
      )}
    </Page>
  );
}

/** Where to go after an emailed link worked: sign in, or home when already signed in. */
function OnwardLink() {
  const me = useMe();
  return <p>{me.data ? <Link to="/">Go to the home page</Link> : <Link to="/sign-in">Sign in</Link>}</p>;
}

/** `/verify-email?token=`: confirms the address of a new account. */
export function VerifyEmailPage() {
  const client = useQueryClient();
  return (
    <TokenActionPage
      title="Confirm your email address"
      explanation="Press the button to confirm that this email address is yours."
      buttonLabel="Confirm my email"
      action={async (token) => {
        await api('/auth/verify-email', { method: 'POST', body: { token } });
        await client.invalidateQueries({ queryKey: ME_KEY });
        return 'Your email address is confirmed. You can now sign in.';
      }}
      done={<OnwardLink />}
    />
  );
}

/** `/confirm-email?token=`: confirms an email change (the link went to the new address). */
export function ConfirmEmailPage() {
  const client = useQueryClient();
  return (
    <TokenActionPage
      title="Confirm your new email address"
      explanation="Press the button to confirm that this email address is yours and make it your account's address."
      buttonLabel="Confirm my new email"
      action={async (token) => {
        await api('/auth/confirm-email', { method: 'POST', body: { token } });
        await client.invalidateQueries({ queryKey: ME_KEY });
        return 'Your email address was changed. Sign in with the new address from now on.';
      }}
      done={<OnwardLink />}
    />
  );
}

interface PendingLink {
  provider: { name: string; display_name: string };
  email: string;
}

/** `/link-account`: the emailed confirmation (`?token=`), or the linking step of a social sign-in. */
export function LinkAccountPage() {
  const [hasToken] = useState(() => new URLSearchParams(window.location.search).has('token'));
  if (hasToken) {
    return (
      <TokenActionPage
        title="Link your account"
        explanation="Press the button to link the provider account to your account. From then on it signs you in."
        buttonLabel="Link my account"
        action={async (token) => {
          const linked = await api<{ provider: { display_name: string } }>('/auth/oauth/link/confirm', { method: 'POST', body: { token } });
          return `The accounts are linked. You can now sign in with ${linked.provider.display_name}.`;
        }}
        done={
          <p>
            <Link to="/sign-in">Sign in</Link>
          </p>
        }
      />
    );
  }
  return <PendingLinkStep />;
}

function PendingLinkStep() {
  const client = useQueryClient();
  const goTo = useGoTo();
  const pending = useQuery({ queryKey: ['auth', 'pending-link'], queryFn: () => api<PendingLink>('/auth/oauth/link'), retry: false, staleTime: Infinity });
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<'password' | 'email' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [emailed, setEmailed] = useState(false);

  const run = async (kind: 'password' | 'email', action: () => Promise<void>) => {
    setBusy(kind);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run('password', async () => {
      const linked = await api<{ redirect: string }>('/auth/oauth/link', { method: 'POST', body: { password } });
      await client.invalidateQueries({ queryKey: ME_KEY });
      // Where the provider button said to return (validated by the server, and again here).
      goTo(safeNext(linked.redirect));
    });
  };

  if (pending.isPending) return <Loading />;
  if (pending.isError) {
    return (
      <Page title="Link your account">
        <ProblemAlert error={pending.error} />
        <p>The link step has expired or was already used. Sign in with the provider again.</p>
        <p>
          <Link to="/sign-in">Back to sign-in</Link>
        </p>
      </Page>
    );
  }
  const { provider, email } = pending.data;
  return (
    <Page title="Link your account">
      {emailed ? (
        <Notice>We sent a confirmation link to the account’s email address. Open it to link the accounts, then sign in with {provider.display_name}.</Notice>
      ) : (
        <div className="card narrow auth-card">
          <p>
            An account with the email address <strong>{email}</strong> already exists. Enter its password to link your {provider.display_name} account to it, or
            confirm by email.
          </p>
          <ProblemAlert error={error} />
          <form onSubmit={submit}>
            <Field label="Email address" name="email" type="email" autoComplete="username" readOnly value={email} />
            <Field
              label="Password"
              name="password"
              type="password"
              autoComplete="current-password"
              maxLength={256}
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            <div className="row">
              <Button type="submit" variant="primary" busy={busy === 'password'}>
                Link and sign in
              </Button>
              <Button
                busy={busy === 'email'}
                onClick={() =>
                  run('email', async () => {
                    await api('/auth/oauth/link/email', { method: 'POST', body: {} });
                    setEmailed(true);
                  })
                }
              >
                Email me a confirmation link instead
              </Button>
            </div>
          </form>
        </div>
      )}
    </Page>
  );
}
