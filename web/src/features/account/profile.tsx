/** `/account`: your name and profile fields (`PATCH /api/v1/users/me`). */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { api, ApiError } from '../../api/client';
import { type Me, ME_KEY } from '../../api/session';
import { Button, Field, Notice, ProblemAlert } from '../../components/ui';
import { AccountPage } from './shell';

/** The profile fields this page edits; every other key of the stored profile is kept as it is. */
const TEXT_FIELDS = [
  { key: 'website', label: 'Website', type: 'url', hint: 'A link people can follow, e.g. https://example.org' },
  { key: 'location', label: 'Location', type: 'text', hint: undefined },
] as const;

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function ProfileForm({ me }: { me: Me }) {
  const client = useQueryClient();
  const bioId = useId();
  const [name, setName] = useState(me.name);
  const [bio, setBio] = useState(text(me.profile.bio));
  const [fields, setFields] = useState<Record<string, string>>(() => Object.fromEntries(TEXT_FIELDS.map((f) => [f.key, text(me.profile[f.key])])));
  const save = useMutation({
    mutationFn: () => {
      // PATCH replaces the profile whole: keep the keys this page does not show.
      const profile: Record<string, unknown> = { ...me.profile, bio, ...fields };
      for (const [key, value] of Object.entries(profile)) if (value === '') delete profile[key];
      return api<Me>('/users/me', { method: 'PATCH', body: { name: name.trim(), profile } });
    },
    onSuccess: (updated) => client.setQueryData(ME_KEY, updated),
  });
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const error = save.error instanceof ApiError ? save.error : undefined;
  return (
    <form className="card narrow" onSubmit={onSubmit} noValidate>
      {save.isSuccess ? <Notice>Your profile was saved.</Notice> : null}
      <ProblemAlert error={save.error} />
      <Field label="Email" name="email" value={me.email} readOnly hint="Change it in the Email section." />
      <Field label="Name" name="name" autoComplete="name" maxLength={200} value={name} onChange={(e) => setName(e.target.value)} error={error?.fieldMessage('name')} />
      <div className="field">
        <label htmlFor={bioId}>About you</label>
        <textarea id={bioId} name="bio" maxLength={2000} value={bio} onChange={(e) => setBio(e.target.value)} />
      </div>
      {TEXT_FIELDS.map((f) => (
        <Field
          key={f.key}
          label={f.label}
          name={f.key}
          type={f.type}
          hint={f.hint}
          value={fields[f.key] ?? ''}
          onChange={(e) => setFields((current) => ({ ...current, [f.key]: e.target.value }))}
        />
      ))}
      <Button type="submit" variant="primary" busy={save.isPending}>
        Save profile
      </Button>
    </form>
  );
}

/** The profile page. */
export function ProfilePage() {
  return <AccountPage title="Your profile">{(me) => <ProfileForm me={me} />}</AccountPage>;
}
