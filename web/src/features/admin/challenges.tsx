/**
 * Challenges management (`challenges:manage`): `/admin/challenges` (every challenge),
 * `/admin/challenges/new` and `/admin/challenges/{slug}` (the form; resources with upload;
 * submissions with their scores and re-evaluation).
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { type FormEvent, useId, useState } from 'react';
import { api, ApiError, type Page as ApiPage } from '../../api/client';
import { Button, Field, formatBytes, Loading, Notice, Page, ProblemAlert, Time } from '../../components/ui';
import type { Challenge, Resource, Submission } from '../challenges/api';
import { AdminMenu, Pager, StateBadge, useCursorPager } from './common';

export function ChallengesAdminPage() {
  const pager = useCursorPager();
  const list = useQuery({
    queryKey: ['admin', 'challenges', pager.cursor],
    queryFn: () => api<ApiPage<Challenge>>('/challenges', { query: { limit: 25, cursor: pager.cursor } }),
    placeholderData: keepPreviousData,
  });
  return (
    <Page
      title="Manage challenges"
      wide
      actions={
        <Link className="button primary" to="/admin/challenges/new">
          New challenge
        </Link>
      }
    >
      <AdminMenu />
      <ProblemAlert error={list.error} />
      {list.isPending ? <Loading label="Loading challenges…" /> : null}
      {list.data ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Challenges</caption>
              <thead>
                <tr>
                  <th scope="col">Challenge</th>
                  <th scope="col">Status</th>
                  <th scope="col">Visibility</th>
                  <th scope="col">Opens</th>
                  <th scope="col">Closes</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Link to="/admin/challenges/$slug" params={{ slug: c.slug }}>
                        {c.title}
                      </Link>
                      <br />
                      <code className="small">{c.slug}</code>
                    </td>
                    <td>
                      <StateBadge state={c.active ? 'active' : 'inactive'} />
                    </td>
                    <td>{c.visibility}</td>
                    <td>
                      <Time iso={c.opens_at} />
                    </td>
                    <td>
                      <Time iso={c.closes_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data.items.length === 0 ? <p>No challenges yet.</p> : null}
          <Pager pager={pager} nextCursor={list.data.next_cursor} label="Challenges" />
        </>
      ) : null}
    </Page>
  );
}

/** The form's text state. */
interface Form {
  slug: string;
  title: string;
  description: string;
  url: string;
  active: boolean;
  opens_at: string;
  closes_at: string;
  evaluators: string;
  score: string;
  direction: 'asc' | 'desc';
  per_day: string;
  concurrent: string;
  visibility: 'public' | 'participants';
}

/** ISO → `datetime-local` value in the reader's time zone. */
function toLocal(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

function fromChallenge(c: Challenge | undefined): Form {
  return {
    slug: c?.slug ?? '',
    title: c?.title ?? '',
    description: c?.description ?? '',
    url: c?.url ?? '',
    active: c?.active ?? true,
    opens_at: toLocal(c?.opens_at ?? null),
    closes_at: toLocal(c?.closes_at ?? null),
    evaluators: c ? c.evaluators.map((e) => `${e.kind} ${e.queue}`).join('\n') : '',
    score: c?.leaderboard.score ?? 'score',
    direction: c?.leaderboard.direction ?? 'desc',
    per_day: c?.limits.per_day?.toString() ?? '',
    concurrent: c?.limits.concurrent?.toString() ?? '',
    visibility: c?.visibility ?? 'public',
  };
}

function toBody(form: Form, creating: boolean): Record<string, unknown> {
  const evaluators = form.evaluators
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [kind = '', queue = ''] = line.split(/\s+/);
      return { kind, queue };
    });
  return {
    ...(creating ? { slug: form.slug.trim() } : {}),
    title: form.title.trim(),
    description: form.description,
    url: form.url.trim() || null,
    active: form.active,
    opens_at: form.opens_at ? new Date(form.opens_at).toISOString() : null,
    closes_at: form.closes_at ? new Date(form.closes_at).toISOString() : null,
    evaluators,
    leaderboard: { score: form.score.trim(), direction: form.direction },
    limits: { per_day: form.per_day ? Number(form.per_day) : null, concurrent: form.concurrent ? Number(form.concurrent) : null },
    visibility: form.visibility,
  };
}

/** Create (no `challenge`) or edit a challenge. */
function ChallengeForm({ challenge, onSaved }: { challenge?: Challenge; onSaved: (c: Challenge) => void }) {
  const [form, setForm] = useState<Form>(() => fromChallenge(challenge));
  const ids = { description: useId(), evaluators: useId(), direction: useId(), visibility: useId(), active: useId() };
  const creating = !challenge;
  const save = useMutation({
    mutationFn: () =>
      creating
        ? api<Challenge>('/challenges', { body: toBody(form, true) })
        : api<Challenge>(`/challenges/${challenge.slug}`, { method: 'PATCH', body: toBody(form, false) }),
    onSuccess: onSaved,
  });
  const fieldError = (name: string) => (save.error instanceof ApiError ? save.error.fieldMessage(name) : undefined);
  const set = <K extends keyof Form>(key: K, value: Form[K]) => setForm((f) => ({ ...f, [key]: value }));
  return (
    <form
      className={creating ? 'card stack' : 'stack'}
      aria-label={creating ? 'New challenge' : 'Challenge settings'}
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <ProblemAlert error={save.error} />
      {save.isSuccess && !creating ? <Notice>Saved.</Notice> : null}
      {creating ? (
        <Field label="Slug" name="slug" required pattern="[a-z0-9][a-z0-9\-]{0,63}" hint="Lower-case letters, digits and dashes; never changes." value={form.slug} error={fieldError('slug')} onChange={(e) => set('slug', e.target.value)} />
      ) : null}
      <Field label="Title" name="title" required maxLength={200} value={form.title} error={fieldError('title')} onChange={(e) => set('title', e.target.value)} />
      <div className="field">
        <label htmlFor={ids.description}>Description (Markdown)</label>
        <textarea id={ids.description} rows={6} maxLength={20_000} value={form.description} onChange={(e) => set('description', e.target.value)} />
      </div>
      <Field label="Website" name="url" type="url" maxLength={2000} value={form.url} error={fieldError('url')} onChange={(e) => set('url', e.target.value)} />
      <div className="filters">
        <Field label="Opens" name="opens_at" type="datetime-local" value={form.opens_at} onChange={(e) => set('opens_at', e.target.value)} />
        <Field label="Closes" name="closes_at" type="datetime-local" value={form.closes_at} onChange={(e) => set('closes_at', e.target.value)} />
        <Field label="Submissions per day" name="per_day" type="number" min={1} value={form.per_day} hint="Empty: unlimited" onChange={(e) => set('per_day', e.target.value)} />
        <Field label="Evaluating at once" name="concurrent" type="number" min={1} value={form.concurrent} hint="Empty: unlimited" onChange={(e) => set('concurrent', e.target.value)} />
        <div className="field">
          <label htmlFor={ids.visibility}>Visibility</label>
          <select id={ids.visibility} value={form.visibility} onChange={(e) => set('visibility', e.target.value as Form['visibility'])}>
            <option value="public">public</option>
            <option value="participants">participants only</option>
          </select>
        </div>
      </div>
      <div className="field">
        <label htmlFor={ids.evaluators}>Evaluators</label>
        <textarea id={ids.evaluators} rows={2} required value={form.evaluators} placeholder="score.predictions challenges" aria-describedby={`${ids.evaluators}-hint`} onChange={(e) => set('evaluators', e.target.value)} />
        <p className="hint" id={`${ids.evaluators}-hint`}>
          One per line: the job kind, a space, the queue.
        </p>
        {fieldError('evaluators') ? <p className="field-error">{fieldError('evaluators')}</p> : null}
      </div>
      <div className="filters">
        <Field label="Leaderboard score" name="score" required value={form.score} onChange={(e) => set('score', e.target.value)} />
        <div className="field">
          <label htmlFor={ids.direction}>Best scores are</label>
          <select id={ids.direction} value={form.direction} onChange={(e) => set('direction', e.target.value as Form['direction'])}>
            <option value="desc">highest (descending)</option>
            <option value="asc">lowest (ascending)</option>
          </select>
        </div>
      </div>
      <p>
        <input id={ids.active} type="checkbox" checked={form.active} onChange={(e) => set('active', e.target.checked)} /> <label htmlFor={ids.active}>Active (accepts submissions)</label>
      </p>
      <Button type="submit" variant="primary" busy={save.isPending}>
        {creating ? 'Create challenge' : 'Save changes'}
      </Button>
    </form>
  );
}

export function NewChallengePage() {
  const navigate = useNavigate();
  return (
    <Page title="New challenge">
      <AdminMenu />
      <ChallengeForm onSaved={(c) => navigate({ to: '/admin/challenges/$slug', params: { slug: c.slug } })} />
    </Page>
  );
}

export function EditChallengePage() {
  const { slug } = useParams({ strict: false }) as { slug: string };
  const client = useQueryClient();
  const challenge = useQuery({ queryKey: ['admin', 'challenge', slug], queryFn: () => api<Challenge>(`/challenges/${slug}`) });
  if (challenge.error) {
    return (
      <Page title="Challenge">
        <AdminMenu />
        <ProblemAlert error={challenge.error} />
      </Page>
    );
  }
  if (!challenge.data) return <Loading label="Loading the challenge…" />;
  return (
    <Page title={`Challenge ${challenge.data.title}`} wide>
      <AdminMenu />
      <p>
        <a href={`/challenges/${encodeURIComponent(slug)}`}>Participants' page</a>
      </p>
      <details className="card">
        <summary>Settings</summary>
        <ChallengeForm key={challenge.data.id} challenge={challenge.data} onSaved={(c) => client.setQueryData(['admin', 'challenge', slug], c)} />
      </details>
      <Resources slug={slug} />
      <Submissions slug={slug} />
    </Page>
  );
}

/** The resource index with an upload form (`POST /challenges/{slug}/resources`, multipart). */
function Resources({ slug }: { slug: string }) {
  const client = useQueryClient();
  const fileId = useId();
  const hiddenId = useId();
  const [name, setName] = useState('');
  const [hidden, setHidden] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [formKey, setFormKey] = useState(0);
  const resources = useQuery({ queryKey: ['admin', 'challenge', slug, 'resources'], queryFn: () => api<{ items: Resource[] }>(`/challenges/${slug}/resources`) });
  const upload = useMutation({
    mutationFn: () => {
      const form = new FormData();
      if (name.trim()) form.append('name', name.trim());
      form.append('hidden', String(hidden));
      if (file) form.append('file', file, file.name);
      return api<Resource>(`/challenges/${slug}/resources`, { method: 'POST', body: form });
    },
    onSuccess: async () => {
      setName('');
      setHidden(false);
      setFile(null);
      setFormKey((k) => k + 1);
      await client.invalidateQueries({ queryKey: ['admin', 'challenge', slug, 'resources'] });
    },
  });
  return (
    <section aria-labelledby="resources-heading">
      <h2 id="resources-heading">Resources</h2>
      <ProblemAlert error={resources.error} />
      {resources.data?.items.length ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Resources</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Visibility</th>
                <th scope="col">Added</th>
              </tr>
            </thead>
            <tbody>
              {resources.data.items.map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={r.download_url} download={r.name}>
                      {r.name}
                    </a>
                  </td>
                  <td className="num">{formatBytes(r.size)}</td>
                  <td>{r.hidden ? <span className="badge warn">hidden</span> : 'everyone'}</td>
                  <td>
                    <Time iso={r.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : resources.data ? (
        <p>No resources yet.</p>
      ) : null}
      <form
        key={formKey}
        className="card"
        aria-label="Upload a resource"
        onSubmit={(event) => {
          event.preventDefault();
          upload.mutate();
        }}
      >
        <ProblemAlert error={upload.error} />
        <div className="field">
          <label htmlFor={fileId}>File</label>
          <input id={fileId} type="file" required onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </div>
        <Field label="Name" name="resource-name" hint="Default: the file's name" maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        <p>
          <input id={hiddenId} type="checkbox" checked={hidden} onChange={(e) => setHidden(e.target.checked)} /> <label htmlFor={hiddenId}>Hidden (reference answers: evaluators and managers only)</label>
        </p>
        <Button type="submit" variant="primary" busy={upload.isPending} disabled={!file}>
          Upload resource
        </Button>
      </form>
    </section>
  );
}

/** Every participant's submissions (managers see all), newest first, with Re-evaluate. */
function Submissions({ slug }: { slug: string }) {
  const client = useQueryClient();
  const pager = useCursorPager();
  const stateId = useId();
  const [state, setState] = useState('');
  const submissions = useQuery({
    queryKey: ['admin', 'challenge', slug, 'submissions', state, pager.cursor],
    queryFn: () => api<ApiPage<Submission>>(`/challenges/${slug}/submissions`, { query: { state, limit: 25, cursor: pager.cursor } }),
    placeholderData: keepPreviousData,
  });
  const reevaluate = useMutation({
    mutationFn: (id: string) => api(`/submissions/${id}/reevaluate`, { method: 'POST' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['admin', 'challenge', slug, 'submissions'] }),
  });
  return (
    <section aria-labelledby="submissions-heading">
      <h2 id="submissions-heading">Submissions</h2>
      <div className="field inline">
        <label htmlFor={stateId}>Submission state</label>
        <select
          id={stateId}
          value={state}
          onChange={(e) => {
            setState(e.target.value);
            pager.reset();
          }}
        >
          <option value="">All states</option>
          <option value="evaluating">evaluating</option>
          <option value="scored">scored</option>
          <option value="failed">failed</option>
        </select>
      </div>
      <ProblemAlert error={submissions.error ?? reevaluate.error} />
      {submissions.data ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Submissions</caption>
              <thead>
                <tr>
                  <th scope="col">Submitted</th>
                  <th scope="col">Participant</th>
                  <th scope="col">State</th>
                  <th scope="col">Scores</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {submissions.data.items.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <Time iso={s.created_at} />
                    </td>
                    <td className="id">{s.user_id}</td>
                    <td>
                      <StateBadge state={s.state} />
                      {s.errors.map((e) => (
                        <p key={e.kind} className="small field-error">
                          {e.kind}: {e.message}
                        </p>
                      ))}
                    </td>
                    <td>
                      {Object.entries(s.scores)
                        .map(([k, v]) => `${k} ${v}`)
                        .join(', ') || '—'}
                    </td>
                    <td>
                      <Button busy={reevaluate.isPending && reevaluate.variables === s.id} disabled={s.state === 'evaluating'} onClick={() => reevaluate.mutate(s.id)} aria-label={`Re-evaluate the submission of ${s.created_at}`}>
                        Re-evaluate
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {submissions.data.items.length === 0 ? <p>No submissions{state ? ` in state ${state}` : ''}.</p> : null}
          <Pager pager={pager} nextCursor={submissions.data.next_cursor} label="Submissions" />
        </>
      ) : (
        <Loading label="Loading submissions…" />
      )}
    </section>
  );
}
