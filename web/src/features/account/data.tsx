/**
 * `/account/data`: download my data (`GET /api/v1/users/me/export`, a JSON attachment) and delete
 * my account (`DELETE /api/v1/users/me`) behind three confirmations: type your email, enter your
 * password, then confirm in a dialog. An account without a password (`has_password: false`: made
 * by a provider or passkey sign-in) sends none: the server accepts a sign-in of the last few
 * minutes instead, and answers `403 reauthentication_required` to an older one, when the page
 * offers to sign out and sign in again (and come back here).
 */
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, ApiError, apiUrl } from '../../api/client';
import { type Me, useSignOut } from '../../api/session';
import { Button, ConfirmDialog, Field, ProblemAlert } from '../../components/ui';
import { AccountPage } from './shell';

/** Where "sign in again" comes back to. */
const BACK_HERE = '/account/data';

/** Shown instead of the problem when the sign-in is too old to delete an account without a password. */
function SignInAgain() {
  const signOut = useSignOut();
  const [busy, setBusy] = useState(false);
  const signInAgain = async () => {
    setBusy(true);
    try {
      await signOut();
    } finally {
      // A full load: the sign-in page starts clean and brings you back here afterwards.
      window.location.assign(`/sign-in?next=${encodeURIComponent(BACK_HERE)}`);
    }
  };
  return (
    <div className="alert alert-error" role="alert">
      <p>To delete your account, sign in again first: you signed in more than a few minutes ago. Then come back here and delete it within 5 minutes.</p>
      <Button variant="primary" busy={busy} onClick={() => void signInAgain()}>
        Sign out and sign in again
      </Button>
    </div>
  );
}

function DeleteAccount({ me }: { me: Me }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [emailWrong, setEmailWrong] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const asksPassword = me.has_password;
  const remove = useMutation({
    mutationFn: () => api('/users/me', { method: 'DELETE', body: asksPassword ? { password } : {} }),
    // A full load of the home page: every cached query of this account goes with it (clearing
    // the cache here first would make this page send the now signed-out visitor to /sign-in).
    onSuccess: () => window.location.assign('/'),
    onError: () => setConfirming(false),
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const wrong = email.trim().toLowerCase() !== me.email.toLowerCase();
    setEmailWrong(wrong);
    if (!wrong && (password || !asksPassword)) setConfirming(true);
  };
  const error = remove.error instanceof ApiError ? remove.error : undefined;
  const staleSignIn = error?.code === 'reauthentication_required';
  return (
    <section className="card danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete my account</h2>
      <p>
        Deleting your account signs you out everywhere, revokes every API key and token, and stops every sign-in. You get a notice by email. This
        cannot be undone from here.
      </p>
      {asksPassword ? null : <p className="muted">Your account has no password: you confirm by having signed in within the last 5 minutes.</p>}
      <form className="narrow" onSubmit={onSubmit} noValidate>
        {staleSignIn ? <SignInAgain /> : <ProblemAlert error={remove.error} />}
        <Field
          label="Type your email address to confirm"
          name="confirm_email"
          type="email"
          autoComplete="off"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={emailWrong ? 'This is not your account’s email address.' : undefined}
        />
        {asksPassword ? (
          <Field
            label="Your password"
            name="delete_password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => {
              setPassword(e.target.value);
              if (remove.isError) remove.reset();
            }}
            error={error?.code === 'invalid_current_password' ? 'This is not your current password.' : undefined}
          />
        ) : null}
        <Button type="submit" variant="danger" disabled={!email || (asksPassword && !password)}>
          Delete my account…
        </Button>
      </form>
      <ConfirmDialog
        open={confirming}
        title="Delete your account for good?"
        confirmLabel="Yes, delete my account"
        danger
        busy={remove.isPending}
        onConfirm={() => remove.mutate()}
        onCancel={() => setConfirming(false)}
      >
        <p>
          The account <strong>{me.email}</strong> will be deleted and you will be signed out.
        </p>
      </ConfirmDialog>
    </section>
  );
}

/** The "your data" page. */
export function DataPage() {
  return (
    <AccountPage title="Your data">
      {(me) => (
        <>
          <section className="card" aria-labelledby="export-heading">
            <h2 id="export-heading">Download my data</h2>
            <p>One JSON file with your account, profile, sessions, API keys (never their secrets), linked accounts, two-factor settings, passkeys and your own activity log.</p>
            <a className="button primary" href={apiUrl('/users/me/export')} download>
              Download my data
            </a>
          </section>
          <DeleteAccount me={me} />
        </>
      )}
    </AccountPage>
  );
}
