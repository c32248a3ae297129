/**
 * `/account/data`: download my data (`GET /api/v1/users/me/export`, a JSON attachment) and delete
 * my account (`DELETE /api/v1/users/me`) behind three confirmations: type your email, enter your
 * password, then confirm in a dialog.
 */
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, ApiError, apiUrl } from '../../api/client';
import { type Me } from '../../api/session';
import { Button, ConfirmDialog, Field, ProblemAlert } from '../../components/ui';
import { AccountPage } from './shell';

function DeleteAccount({ me }: { me: Me }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [emailWrong, setEmailWrong] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({
    mutationFn: () => api('/users/me', { method: 'DELETE', body: { password } }),
    // A full load of the home page: every cached query of this account goes with it (clearing
    // the cache here first would make this page send the now signed-out visitor to /sign-in).
    onSuccess: () => window.location.assign('/'),
    onError: () => setConfirming(false),
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const wrong = email.trim().toLowerCase() !== me.email.toLowerCase();
    setEmailWrong(wrong);
    if (!wrong && password) setConfirming(true);
  };
  const error = remove.error instanceof ApiError ? remove.error : undefined;
  return (
    <section className="card danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete my account</h2>
      <p>
        Deleting your account signs you out everywhere, revokes every API key and token, and stops every sign-in. You get a notice by email. This
        cannot be undone from here.
      </p>
      <form className="narrow" onSubmit={onSubmit} noValidate>
        <ProblemAlert error={remove.error} />
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
        <Button type="submit" variant="danger" disabled={!email || !password}>
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
