/**
 * `/sign-in`: email and password, then the second step when the account has TOTP on (a code from
 * the authenticator app or a recovery code, `POST /api/v1/auth/mfa`), passkey sign-in
 * (`navigator.credentials.get`, no email typed: discoverable credentials), and a link per enabled
 * social provider. `?next=` (same-origin paths only) is where a successful sign-in goes, default
 * `/`; a signed-in visitor goes there at once. `?mfa_token=` is a sign-in finished elsewhere (a
 * social callback) that waits for its second factor.
 */
import { useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api, isApiError } from '../../api/client';
import { ME_KEY, useMe, useMeta } from '../../api/session';
import { Button, Field, Loading, Notice, Page, ProblemAlert } from '../../components/ui';
import { nextFromLocation, useGoTo, useUrlSecret } from './navigation';
import { getPasskeyAssertion, passkeysSupported, type RequestOptionsJson } from './webauthn';

type Busy = 'password' | 'mfa' | 'passkey' | 'resend' | null;

/** The sign-in page. */
export function SignInPage() {
  const meta = useMeta();
  const me = useMe();
  const client = useQueryClient();
  const goTo = useGoTo();
  const [next] = useState(nextFromLocation);
  const handedMfaToken = useUrlSecret('mfa_token');
  const [mfaToken, setMfaToken] = useState<string | null>(handedMfaToken);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<unknown>(null);
  const [unverified, setUnverified] = useState<string | null>(null);
  const [resent, setResent] = useState(false);
  const leaving = useRef(false);

  useEffect(() => {
    // Already signed in (another tab, a back button): straight on to where sign-in would go.
    if (me.data && !leaving.current) {
      leaving.current = true;
      goTo(next, { replace: true });
    }
  }, [me.data, next, goTo]);

  const signedIn = async () => {
    leaving.current = true;
    await client.invalidateQueries({ queryKey: ME_KEY });
    goTo(next);
  };

  const run = async (kind: Exclude<Busy, null>, action: () => Promise<void>) => {
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

  const submitPassword = (event: FormEvent) => {
    event.preventDefault();
    setUnverified(null);
    setResent(false);
    void run('password', async () => {
      try {
        await api('/auth/login', { method: 'POST', body: { email, password } });
      } catch (caught) {
        // The password was right; the second step asks for a code.
        if (isApiError(caught) && caught.code === 'mfa_required' && typeof caught.problem.mfa_token === 'string') {
          setMfaToken(caught.problem.mfa_token);
          setPassword('');
          return;
        }
        if (isApiError(caught) && caught.code === 'email_not_verified') setUnverified(email);
        throw caught;
      }
      await signedIn();
    });
  };

  const submitCode = (event: FormEvent) => {
    event.preventDefault();
    const value = code.trim();
    void run('mfa', async () => {
      try {
        const second = /^\d{6}$/.test(value) ? { code: value } : { recovery_code: value };
        await api('/auth/mfa', { method: 'POST', body: { mfa_token: mfaToken, ...second } });
      } catch (caught) {
        // Expired, used up or burnt by wrong codes: start again from the password.
        if (isApiError(caught) && caught.code === 'invalid_token') setMfaToken(null);
        setCode('');
        throw caught;
      }
      await signedIn();
    });
  };

  const signInWithPasskey = () =>
    run('passkey', async () => {
      const options = await api<RequestOptionsJson>('/auth/passkey/options', { method: 'POST', body: {} });
      let response;
      try {
        response = await getPasskeyAssertion(options);
      } catch (caught) {
        throw new Error(`No passkey was used${caught instanceof Error && caught.message ? `: ${caught.message}` : '.'}`);
      }
      await api('/auth/passkey', { method: 'POST', body: { response } });
      await signedIn();
    });

  const resendVerification = () =>
    run('resend', async () => {
      if (!unverified) return;
      await api('/auth/verify-email/resend', { method: 'POST', body: { email: unverified } });
      setResent(true);
    });

  if (me.data === undefined && me.isPending) return <Loading />;
  const providers = meta.data?.providers ?? [];
  const providerHref = (name: string) => `/api/v1/auth/oauth/${encodeURIComponent(name)}/start?redirect=${encodeURIComponent(next)}`;

  if (mfaToken) {
    return (
      <Page title="Two-factor authentication">
        <div className="card narrow auth-card">
          <p>Two-factor authentication is on for this account. Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
          <ProblemAlert error={error} />
          <form onSubmit={submitCode}>
            <Field
              label="Authentication code"
              name="code"
              type="text"
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={64}
              required
              // The person just pressed "Sign in": the code field is where they type next.
              autoFocus
              value={code}
              onChange={(event) => setCode(event.target.value)}
            />
            <div className="row">
              <Button type="submit" variant="primary" busy={busy === 'mfa'}>
                Verify
              </Button>
              <Button
                onClick={() => {
                  setMfaToken(null);
                  setError(null);
                }}
              >
                Start over
              </Button>
            </div>
          </form>
        </div>
      </Page>
    );
  }

  return (
    <Page title="Sign in">
      <div className="card narrow auth-card">
        <ProblemAlert error={error} />
        {unverified ? (
          resent ? (
            <Notice>If this email has an unverified account, a new link is on its way. Check your inbox.</Notice>
          ) : (
            <p>
              <Button onClick={resendVerification} busy={busy === 'resend'}>
                Send the confirmation email again
              </Button>
            </p>
          )
        ) : null}
        <form onSubmit={submitPassword}>
          <Field
            label="Email address"
            name="email"
            type="email"
            autoComplete="username"
            maxLength={254}
            required
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
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
          <Button type="submit" variant="primary" busy={busy === 'password'} className="wide-button">
            Sign in
          </Button>
        </form>
        <p>
          <Link to="/forgot-password">Forgot your password?</Link>
        </p>
        {meta.data?.features.passkeys !== false && passkeysSupported() ? (
          <div className="auth-alternatives">
            <Button onClick={signInWithPasskey} busy={busy === 'passkey'} className="wide-button">
              Sign in with a passkey
            </Button>
          </div>
        ) : null}
        {providers.length ? (
          <div className="auth-alternatives">
            <h2 className="auth-or">Or sign in with</h2>
            <ul className="provider-list">
              {providers.map((provider) => (
                <li key={provider.name}>
                  <a className="button plain wide-button" href={providerHref(provider.name)}>
                    Sign in with {provider.display_name}
                  </a>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
      {meta.data?.features.registration !== false ? (
        <p className="auth-footnote">
          New here? <Link to="/sign-up">Create an account</Link>
        </p>
      ) : null}
    </Page>
  );
}
