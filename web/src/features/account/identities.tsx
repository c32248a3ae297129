/**
 * `/account/identities`: the sign-in provider accounts linked to yours (`GET
 * /api/v1/users/me/identities`); link another (`POST …/identities` answers the provider's URL,
 * which brings the browser back here with `?linked=<provider>`); unlink (`DELETE
 * …/identities/{id}`; `409 last_sign_in_method` shown inline when it is your only way in).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import { useMeta } from '../../api/session';
import { Button, ConfirmDialog, Loading, Notice, ProblemAlert, Time } from '../../components/ui';
import { AccountPage } from './shell';

/** A linked provider account. */
interface Identity {
  id: string;
  provider: string;
  display_name: string;
  email: string | null;
  email_verified: boolean;
  linked_at: string;
  last_sign_in_at: string | null;
}

const IDENTITIES_KEY = ['account', 'identities'] as const;

function Identities() {
  const client = useQueryClient();
  const meta = useMeta();
  const identities = useQuery({ queryKey: IDENTITIES_KEY, queryFn: () => api<{ items: Identity[] }>('/users/me/identities') });
  const [unlinking, setUnlinking] = useState<Identity | null>(null);
  const [unlinked, setUnlinked] = useState<string | null>(null);
  const linkedNow = new URLSearchParams(window.location.search).get('linked');
  const link = useMutation({
    mutationFn: (provider: string) => api<{ authorization_url: string }>('/users/me/identities', { method: 'POST', body: { provider, redirect: '/account/identities' } }),
    onSuccess: ({ authorization_url }) => window.location.assign(authorization_url),
  });
  const unlink = useMutation({
    mutationFn: (identity: Identity) => api(`/users/me/identities/${identity.id}`, { method: 'DELETE' }),
    onSuccess: (_result, identity) => setUnlinked(nameOf(identity.provider)),
    onSettled: () => {
      setUnlinking(null);
      return client.invalidateQueries({ queryKey: IDENTITIES_KEY });
    },
  });
  const providers = meta.data?.providers ?? [];
  const nameOf = (provider: string) => providers.find((p) => p.name === provider)?.display_name ?? provider;
  if (identities.isPending) return <Loading />;
  if (identities.error) return <ProblemAlert error={identities.error} />;
  return (
    <>
      <p className="muted">Provider accounts that can sign you in. Link one to sign in with it; unlink it to stop that.</p>
      {linkedNow && !unlinked ? <Notice>Your {nameOf(linkedNow)} account is now linked.</Notice> : null}
      {unlinked ? <Notice>Your {unlinked} account was unlinked.</Notice> : null}
      <ProblemAlert error={unlink.error ?? link.error} />
      {identities.data.items.length === 0 ? <p>No provider account is linked.</p> : null}
      <ul className="item-list" aria-label="Linked accounts">
        {identities.data.items.map((identity) => (
          <li key={identity.id}>
            <div className="item-main">
              <p>
                <strong>{nameOf(identity.provider)}</strong>
                {identity.email ? `: ${identity.email}` : ''}
              </p>
              <p className="muted">
                linked <Time iso={identity.linked_at} /> · last sign-in {identity.last_sign_in_at ? <Time iso={identity.last_sign_in_at} /> : 'never'}
              </p>
            </div>
            <Button aria-label={`Unlink ${nameOf(identity.provider)} account${identity.email ? ` ${identity.email}` : ''}`} onClick={() => setUnlinking(identity)}>
              Unlink
            </Button>
          </li>
        ))}
      </ul>
      <h2>Link another account</h2>
      {providers.length === 0 ? (
        <p>This server has no sign-in providers configured.</p>
      ) : (
        <div className="row">
          {providers.map((provider) => (
            <Button key={provider.name} busy={link.isPending && link.variables === provider.name} onClick={() => link.mutate(provider.name)}>
              Link {provider.display_name}
            </Button>
          ))}
        </div>
      )}
      <ConfirmDialog
        open={unlinking !== null}
        title="Unlink this account?"
        confirmLabel="Unlink"
        danger
        busy={unlink.isPending}
        onConfirm={() => unlinking && unlink.mutate(unlinking)}
        onCancel={() => setUnlinking(null)}
      >
        <p>You will no longer be able to sign in with {unlinking ? nameOf(unlinking.provider) : ''}.</p>
      </ConfirmDialog>
    </>
  );
}

/** The linked accounts page. */
export function IdentitiesPage() {
  return <AccountPage title="Linked accounts">{() => <Identities />}</AccountPage>;
}
