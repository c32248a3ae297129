/**
 * The typed shape of every table, as Kysely sees it.
 *
 * Conventions shared by both dialects: ids are UUIDv7 strings; times are ISO-8601 UTC strings
 * (SQLite `TEXT`, PostgreSQL `timestamptz` parsed back to ISO strings in `database.ts`); JSON
 * columns are serialised strings (`jsonb` on PostgreSQL, parsed by the repositories).
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** `user`: one account. `email_normalized` (lower-cased) carries the case-insensitive unique index. */
export interface UserTable {
  id: string;
  email: string;
  email_normalized: string;
  /** argon2id PHC string; null for an account created through a provider that has not set a password (migration 0010). */
  password_hash: string | null;
  name: string;
  /** JSON object, serialised. */
  profile: string;
  role: 'user' | 'admin' | 'worker';
  status: 'active' | 'deactivated';
  email_verified_at: string | null;
  /** While in the future, the user may not sign in; set by a ban, cleared by unban. */
  banned_until: string | null;
  ban_reason: string | null;
  created_at: string;
  updated_at: string;
  /** When the user confirmed a TOTP authenticator; null without one (migration 0011). */
  mfa_enabled_at: string | null;
}

/**
 * `session`: a login. Browser sessions carry the SHA-256 hash of their cookie secret; API
 * sessions (from the token endpoint) have no cookie and own a family of refresh tokens.
 */
export interface SessionTable {
  id: string;
  user_id: string;
  kind: 'browser' | 'api';
  token_hash: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  revoked_at: string | null;
  revoke_reason: string | null;
  ip: string | null;
  user_agent: string | null;
  /** Lifetime this session slides by, in seconds (from the user's groups); null = the configured default. */
  ttl_seconds: number | null;
}

/** `refresh_token`: one link in an API session's rotation chain (its token family). */
export interface RefreshTokenTable {
  id: string;
  session_id: string;
  token_hash: string;
  parent_id: string | null;
  created_at: string;
  expires_at: string;
  /** Set when the token was exchanged; presenting it again is reuse and revokes the family. */
  used_at: string | null;
}

/** `one_time_token`: email verification, password reset and email change tokens, consumed atomically. */
export interface OneTimeTokenTable {
  id: string;
  user_id: string;
  purpose: 'verify_email' | 'reset_password' | 'change_email';
  token_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** The pending new address of a `change_email` token; null for the other purposes (migration 0005). */
  new_email: string | null;
}

/** `signing_key`: JWT signing key pairs (private JWK kept server-side, public JWK in the JWKS). */
export interface SigningKeyTable {
  kid: string;
  algorithm: string;
  public_jwk: string;
  private_jwk: string;
  created_at: string;
  retired_at: string | null;
}

/** `outbox`: durable queue of outgoing messages (email, Mattermost, webhook), delivered with retries. */
export interface OutboxTable {
  id: string;
  channel: 'email' | 'mattermost' | 'webhook';
  /** Email address for `email`; the channel name for `mattermost` and `webhook` (their URLs carry secrets). */
  recipient: string;
  subject: string;
  /** Serialised JSON: `{ text, html }` for email, `{ text }` for Mattermost, the signed payload for webhooks. */
  body: string;
  /** Which template produced it, for operators and tests. */
  template: string;
  status: 'pending' | 'sent' | 'dead';
  attempts: number;
  next_attempt_at: string;
  locked_until: string | null;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}

/**
 * `group`: a named set of users with extra permissions and policy. Null policy values mean
 * "use the configured default".
 */
export interface GroupTable {
  id: string;
  name: string;
  description: string;
  /** JSON array of permission strings, serialised. */
  permissions: string;
  /** Session lifetime for members (the longest of their groups wins). */
  session_ttl_seconds: number | null;
  /** Longest API key lifetime members may choose; null = non-expiring keys allowed. */
  api_key_max_ttl_seconds: number | null;
  quota_per_hour: number | null;
  quota_per_day: number | null;
  /** Bytes of stored files each member may own; 0 = unlimited; null = STORAGE_QUOTA_BYTES (the largest of their groups wins). */
  storage_quota_bytes: number | null;
  /** 1: members must enrol TOTP before anything else (migration 0011); 0: no requirement. */
  require_mfa: number;
  created_at: string;
  updated_at: string;
}

/** `user_group`: membership. */
export interface UserGroupTable {
  user_id: string;
  group_id: string;
  created_at: string;
}

/** `api_key`: long-lived credentials `gh_<prefix>_<secret>`, stored as the SHA-256 of the whole key. */
export interface ApiKeyTable {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  /** JSON array of permission strings, serialised. */
  scopes: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

/** `audit_log`: append-only record of security events. */
export interface AuditLogTable {
  id: string;
  created_at: string;
  action: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  /** JSON object, serialised. */
  details: string;
}

/** `login_attempt`: every password login, for throttling forensics and admins. */
export interface LoginAttemptTable {
  id: string;
  created_at: string;
  email_normalized: string;
  user_id: string | null;
  ip: string | null;
  outcome: string;
}

/**
 * `scheduled_task`: one row per scheduler task, shared by every instance. It is the task's lease:
 * an instance runs a due run only after an atomic conditional UPDATE made it `lease_owner`.
 */
export interface ScheduledTaskTable {
  /** Task name, e.g. `purge-sessions`. */
  name: string;
  /** Cron expression (5 fields, UTC) as last registered by an instance, or `off`. */
  schedule: string;
  /** 1 when the registering instance runs the task on its schedule, 0 when `off`. */
  enabled: number;
  /** When the next scheduled run is due; null when disabled. */
  next_run_at: string | null;
  last_run_at: string | null;
  /** Instance currently running the task (its lease), or null. */
  lease_owner: string | null;
  /** The lease ends here even if its owner never releases it (a crashed instance). */
  lease_expires_at: string | null;
  updated_at: string;
}

/** `task_run`: one scheduler task run, from claim to outcome. */
export interface TaskRunTable {
  id: string;
  task: string;
  /** `schedule` (a due run) or `manual` (`gatehouse schedule run`). */
  trigger: 'schedule' | 'manual';
  /** The instance that ran it (`host:pid:random`). */
  instance: string;
  started_at: string;
  finished_at: string | null;
  /** Null while running (or when its instance died mid-run). */
  outcome: 'success' | 'failure' | 'skipped' | null;
  /** JSON object, serialised: what the task did, or the error. */
  detail: string;
}

/** `notify_channel`: an operator's switch for one channel (`notify enable|disable`); no row = enabled. */
export interface NotifyChannelTable {
  channel: string;
  /** 1 = enabled, 0 = paused. */
  enabled: number;
  updated_at: string;
}

/** Every table, keyed by name. */
/** `queue`: a named stream of jobs with its own lease, retry and permission settings (migration 0006). */
export interface QueueTable {
  name: string;
  description: string;
  /** 1 while paused: nothing is claimed from it (enqueueing still works). */
  paused: number;
  /** How long a claim or heartbeat holds a job, in seconds. */
  lease_seconds: number;
  /** Claims a job may have before failures make it `dead`. */
  max_attempts: number;
  /** Lapsed leases (a worker vanished mid-job) a job may suffer before it ends `dead`. */
  max_lease_expiries: number;
  /** Retry backoff: base * 2^(failures-1) seconds, capped at `backoff_max_seconds`. */
  backoff_base_seconds: number;
  backoff_max_seconds: number;
  /** Permission a caller needs to enqueue here (default `jobs:enqueue`). */
  enqueue_permission: string;
  /** Permission a worker's API key needs to claim from here (default `jobs:claim`). */
  claim_permission: string;
  /** Jobs a worker may hold in total when claiming from this queue (default 1). */
  worker_concurrency: number;
  created_at: string;
  updated_at: string;
}

/** The states a job moves through. */
export type JobState = 'queued' | 'running' | 'paused' | 'succeeded' | 'failed' | 'cancelled' | 'dead';

/** `job`: one unit of work (migration 0006). JSON columns are serialised strings. */
export interface JobTable {
  id: string;
  queue: string;
  kind: string;
  payload: string;
  priority: number;
  run_after: string;
  idempotency_key: string | null;
  /**
   * The owner an idempotency key is scoped to (migration 0007): the enqueuer's user id, `''` for
   * the operator, null without a key (optional when inserting). Unlike `owner_id` it survives the
   * user's deletion. Unique with (queue, idempotency_key).
   */
  idempotency_owner?: string | null;
  state: JobState;
  /** Claims so far; the fencing token a worker must echo. */
  attempt: number;
  /** Reported failures (retryable or not). */
  failures: number;
  /** Leases that lapsed without a heartbeat. */
  lease_expiries: number;
  lease_expires_at: string | null;
  worker_id: string | null;
  progress: number;
  progress_message: string | null;
  metrics: string | null;
  result: string | null;
  error: string | null;
  /** JSON array of file ids. */
  input_files: string;
  /** JSON array of file ids. */
  output_files: string;
  checkpoint_file_id: string | null;
  owner_id: string | null;
  parent_type: string | null;
  parent_id: string | null;
  /** The last event's per-job sequence number. */
  event_seq: number;
  created_at: string;
  started_at: string | null;
  heartbeat_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

/**
 * `topic_event`: append-only history of a module's live topic (`<prefix>:<id>`); `id` shares
 * `job_event`'s global id space, `seq` counts per topic from 1.
 */
export interface TopicEventTable {
  id: Generated<number>;
  topic: string;
  seq: number;
  type: string;
  /** JSON object, serialised. */
  data: string;
  created_at: string;
}

/** `job_event`: append-only history of a job; `id` is global, `seq` counts per job from 1. */
export interface JobEventTable {
  id: Generated<number>;
  job_id: string;
  queue: string;
  seq: number;
  type: string;
  /** JSON object, serialised. */
  data: string;
  created_at: string;
}

/** `worker`: the identity behind one worker API key (migration 0006). */
export interface WorkerTable {
  id: string;
  api_key_id: string;
  user_id: string;
  name: string;
  /** JSON `{queues: string[], kinds: string[] | null}` from its latest claim. */
  capabilities: string;
  created_at: string;
  last_seen_at: string;
}

/** `file`: one stored file; the bytes live in the storage backend under `storage_key` (migration 0006). */
export interface FileTable {
  id: string;
  owner_id: string | null;
  purpose: 'input' | 'output' | 'checkpoint' | 'attachment';
  name: string;
  content_type: string;
  size_bytes: number;
  /** Lower-case hex SHA-256 of the content. */
  sha256: string;
  storage_key: string;
  /** The job a worker uploaded it for (outputs, checkpoints), if any. */
  job_id: string | null;
  created_at: string;
}

/** `identity`: an account at an external sign-in provider linked to a user (migration 0010). */
export interface IdentityTable {
  id: string;
  user_id: string;
  /** The provider's configured name (`google`, `github`, an `OIDC_<NAME>` lower-cased). */
  provider: string;
  /** The provider's stable id of the account (OIDC `sub`; GitHub's numeric user id). */
  subject: string;
  /** The email the provider reported at the last sign-in, if any. */
  email: string | null;
  /** 1 when the provider said that email is verified, else 0. */
  email_verified: number;
  linked_at: string;
  last_sign_in_at: string | null;
}

/**
 * `identity_ticket`: a single-use secret of a social sign-in flow, stored as its SHA-256 hash
 * (migration 0010): an API client's one-time `login_code`, a pending `link` awaiting proof of
 * the existing account, or its emailed `link_email` confirmation.
 */
export interface IdentityTicketTable {
  id: string;
  purpose: 'login_code' | 'link' | 'link_email';
  token_hash: string;
  /** The user signing in (`login_code`) or the existing account to link to (`link`, `link_email`). */
  user_id: string;
  provider: string;
  subject: string;
  email: string | null;
  email_verified: number;
  /** How the flow finishes: `browser` (session cookie) or `api` (one-time code for `/auth/token`). */
  mode: 'browser' | 'api';
  /** PKCE S256 challenge of an API client's `login_code` (RFC 7636). */
  code_challenge: string | null;
  /** Where the flow returns to. */
  redirect_uri: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

/** `totp_credential`: a user's TOTP authenticator (RFC 6238), pending until confirmed (migration 0011). */
export interface TotpCredentialTable {
  user_id: string;
  /** The shared secret as stored: `v1:<iv>:<tag>:<ciphertext>` (AES-256-GCM, MFA_ENCRYPTION_KEY) or `plain:<base32>`. */
  secret: string;
  /** Null while enrolment awaits its first code. */
  confirmed_at: string | null;
  /** The last time step (30-second periods since the epoch) a code was accepted for; older or equal steps are refused. */
  last_step: number | null;
  created_at: string;
}

/** `recovery_code`: single-use recovery codes, as SHA-256 hashes of their normalised form. */
export interface RecoveryCodeTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: string;
  used_at: string | null;
}

/** `passkey`: a WebAuthn credential (discoverable), with its public key and signature counter. */
export interface PasskeyTable {
  id: string;
  user_id: string;
  /** The credential id, base64url. */
  credential_id: string;
  /** COSE public key, base64url. */
  public_key: string;
  /** The signature counter last seen (WebAuthn §6.1.1); 0 when the authenticator keeps none. */
  counter: number;
  /** JSON array of transports, serialised. */
  transports: string;
  name: string;
  /** `singleDevice` or `multiDevice` (synced). */
  device_type: string;
  /** 1 when the credential is backed up (synced). */
  backed_up: number;
  created_at: string;
  last_used_at: string | null;
}

/**
 * `mfa_challenge`: a short-lived, single-use challenge, stored as a hash: `mfa` (a sign-in waiting
 * for its second factor, bound to the user and the primary sign-in's flow and method),
 * `passkey_register` and `passkey_login` (WebAuthn ceremony challenges).
 */
export interface MfaChallengeTable {
  id: string;
  purpose: 'mfa' | 'passkey_register' | 'passkey_login';
  token_hash: string;
  user_id: string | null;
  /** `browser` (cookie session) or `api` (tokens): what completing the sign-in issues. */
  flow: string | null;
  /** How the primary factor was proven (`password`, `oidc:<provider>`, …). */
  method: string | null;
  /** Wrong codes presented against this challenge. */
  attempts: number;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface Database {
  identity: IdentityTable;
  identity_ticket: IdentityTicketTable;
  user: UserTable;
  session: SessionTable;
  refresh_token: RefreshTokenTable;
  one_time_token: OneTimeTokenTable;
  signing_key: SigningKeyTable;
  outbox: OutboxTable;
  group: GroupTable;
  user_group: UserGroupTable;
  api_key: ApiKeyTable;
  audit_log: AuditLogTable;
  login_attempt: LoginAttemptTable;
  scheduled_task: ScheduledTaskTable;
  task_run: TaskRunTable;
  notify_channel: NotifyChannelTable;
  queue: QueueTable;
  job: JobTable;
  job_event: JobEventTable;
  topic_event: TopicEventTable;
  worker: WorkerTable;
  file: FileTable;
  totp_credential: TotpCredentialTable;
  recovery_code: RecoveryCodeTable;
  passkey: PasskeyTable;
  mfa_challenge: MfaChallengeTable;
}

export type UserRow = Selectable<UserTable>;
export type NewUserRow = Insertable<UserTable>;
export type UserUpdate = Updateable<UserTable>;
export type SessionRow = Selectable<SessionTable>;
export type RefreshTokenRow = Selectable<RefreshTokenTable>;
export type OneTimeTokenRow = Selectable<OneTimeTokenTable>;
export type SigningKeyRow = Selectable<SigningKeyTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type GroupRow = Selectable<GroupTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
export type LoginAttemptRow = Selectable<LoginAttemptTable>;
export type ScheduledTaskRow = Selectable<ScheduledTaskTable>;
export type TaskRunRow = Selectable<TaskRunTable>;
export type QueueRow = Selectable<QueueTable>;
export type JobRow = Selectable<JobTable>;
export type JobEventRow = Selectable<JobEventTable>;
export type TopicEventRow = Selectable<TopicEventTable>;
export type WorkerRow = Selectable<WorkerTable>;
export type FileRow = Selectable<FileTable>;
export type IdentityRow = Selectable<IdentityTable>;
export type IdentityTicketRow = Selectable<IdentityTicketTable>;
export type TotpCredentialRow = Selectable<TotpCredentialTable>;
export type PasskeyRow = Selectable<PasskeyTable>;
export type MfaChallengeRow = Selectable<MfaChallengeTable>;
