/**
 * The one domain error type and its catalogue of stable codes.
 *
 * Services throw `new AppError(code, detail?)`; the HTTP layer maps the code to a status and an
 * RFC 9457 problem document (`src/http/problem.ts`). Codes are public API: never rename one once
 * shipped (the practice of Supabase Auth's `apierrors/errorcode.go`).
 */

/** Every error code Gatehouse can return, with its HTTP status and human title. */
export const errorCatalogue = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  bad_request: { status: 400, title: 'Bad request' },
  invalid_token: { status: 400, title: 'The token is invalid, expired or already used' },
  invalid_current_password: { status: 400, title: 'The current password is not correct' },
  invalid_request: { status: 400, title: 'The token request is missing a parameter or is malformed' },
  invalid_grant: { status: 400, title: 'The credentials or refresh token are invalid' },
  unsupported_grant_type: { status: 400, title: 'The grant type is not supported' },
  authentication_required: { status: 401, title: 'Authentication is required' },
  invalid_credentials: { status: 401, title: 'Invalid email or password' },
  mfa_required: { status: 401, title: 'A second factor is required to finish signing in' },
  invalid_mfa_code: { status: 400, title: 'The authentication code is not correct' },
  mfa_enrollment_required: { status: 403, title: 'Your group requires two-factor authentication: enrol an authenticator first' },
  passkey_verification_failed: { status: 400, title: 'The passkey could not be verified' },
  session_expired: { status: 401, title: 'The session or token has expired or was revoked' },
  account_deactivated: { status: 401, title: 'The account is deactivated' },
  invalid_api_key: { status: 401, title: 'The API key is invalid, expired or revoked' },
  reauthentication_required: { status: 403, title: 'Confirm your password to do this' },
  privilege_escalation: { status: 403, title: 'The target holds access you do not have' },
  email_not_verified: { status: 403, title: 'The email address has not been verified' },
  user_banned: { status: 403, title: 'The account is banned' },
  quota_exceeded: { status: 429, title: 'The API call quota is used up' },
  csrf_failed: { status: 403, title: 'The request origin is not allowed' },
  forbidden: { status: 403, title: 'You are not allowed to do this' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  email_taken: { status: 409, title: 'An account with this email already exists' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  lease_lost: { status: 409, title: 'This worker no longer holds the job under this attempt' },
  worker_busy: { status: 409, title: 'The worker already holds as many jobs as it may' },
  idempotency_conflict: { status: 409, title: 'The idempotency key was already used with a different request' },
  job_paused: { status: 409, title: 'The job is paused: it cannot complete until it is resumed' },
  range_not_satisfiable: { status: 416, title: 'The requested range is not satisfiable' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  storage_quota_exceeded: { status: 413, title: 'The upload would exceed your storage quota' },
  request_timeout: { status: 408, title: 'The request was not received in time' },
  headers_too_large: { status: 431, title: 'The request line or headers are too large' },
  unsupported_media_type: { status: 415, title: 'The content type is not supported' },
  weak_password: { status: 422, title: 'The password is too weak' },
  rate_limited: { status: 429, title: 'Too many requests' },
  too_many_connections: { status: 429, title: 'Too many live connections are open' },
  too_many_waiting_claims: { status: 429, title: 'Too many claims are waiting for this worker key' },
  internal_error: { status: 500, title: 'Internal server error' },
  service_unavailable: { status: 503, title: 'The service is temporarily unavailable' },
  job_hook_failed: { status: 503, title: 'A job outcome hook failed; the outcome was not recorded' },
  identity_flow_invalid: { status: 400, title: 'The sign-in with the provider is invalid, expired or was already completed' },
  redirect_not_allowed: { status: 400, title: 'The redirect address is not allowed' },
  identity_denied: { status: 403, title: 'The sign-in provider did not grant the sign-in' },
  identity_link_required: { status: 409, title: 'An account with this email exists: prove it is yours to link the provider' },
  identity_email_in_use: { status: 409, title: 'An account with this email exists, and the provider does not vouch for the email' },
  identity_taken: { status: 409, title: 'This provider account is linked to another account' },
  last_sign_in_method: { status: 409, title: 'This is the last way to sign in to the account' },
  identity_email_required: { status: 422, title: 'The sign-in provider gave no email address' },
  identity_provider_unavailable: { status: 503, title: 'The sign-in provider could not be reached' },
} as const satisfies Record<string, ErrorDefinition>;

/** An error code's HTTP status and human title. */
export interface ErrorDefinition {
  status: number;
  title: string;
}

/**
 * Error codes that feature modules add (src/modules/contract.ts, `errors`). A module declares its
 * codes for the type checker by merging into this interface:
 * `declare module '../../shared/errors.js' { interface ModuleErrorCodes { note_locked: true } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModuleErrorCodes {}

/** A stable machine-readable error code: the platform's or a registered module's. */
export type ErrorCode = keyof typeof errorCatalogue | keyof ModuleErrorCodes;

/** Module codes registered at start-up (codes are process-wide and never change meaning). */
const moduleErrors = new Map<string, ErrorDefinition>();

/**
 * Adds a module's error codes to the catalogue. Registering the same definition again is a no-op
 * (several Gatehouse instances in one process, as in tests).
 * @throws Error when a code is malformed, is a platform code, or is already registered differently.
 */
export function registerErrorCodes(owner: string, codes: Readonly<Record<string, ErrorDefinition>>): void {
  for (const [code, def] of Object.entries(codes)) {
    if (!/^[a-z][a-z0-9_]{2,63}$/.test(code)) throw new Error(`Module ${owner}: error code "${code}" must be snake_case.`);
    if (code in errorCatalogue) throw new Error(`Module ${owner}: error code "${code}" is a platform code.`);
    if (!Number.isInteger(def.status) || def.status < 400 || def.status > 599) throw new Error(`Module ${owner}: error code "${code}" needs a 4xx or 5xx status.`);
    const known = moduleErrors.get(code);
    if (known && (known.status !== def.status || known.title !== def.title)) {
      throw new Error(`Module ${owner}: error code "${code}" is already registered with another meaning.`);
    }
    moduleErrors.set(code, { status: def.status, title: def.title });
  }
}

/** The status and title of a code given as text (a URL segment), or undefined when nobody registered it. */
export function findErrorDefinition(code: string): ErrorDefinition | undefined {
  return Object.hasOwn(errorCatalogue, code) ? (errorCatalogue as Record<string, ErrorDefinition>)[code] : moduleErrors.get(code);
}

/** The status and title of `code`. @throws Error for a code nobody registered (a programming error). */
export function errorDefinition(code: ErrorCode): ErrorDefinition {
  const def = findErrorDefinition(code);
  if (!def) throw new Error(`Unknown error code ${code}: register it in the module's errors.`);
  return def;
}

/** One field-level problem: a JSON pointer-like path into the input and a message. */
export interface FieldError {
  /** Path of the offending field, e.g. `/email` or `/profile/bio`. */
  field: string;
  message: string;
}

/** Options for {@link AppError}. */
export interface AppErrorOptions {
  /** The underlying error, logged but never sent to clients. */
  cause?: unknown;
  /** Field-level problems (validation). */
  errors?: FieldError[];
  /** Extra members for the problem document (e.g. `retry_after`). */
  extra?: Record<string, unknown>;
  /** Extra response headers (e.g. `Retry-After`). */
  headers?: Record<string, string>;
}

/**
 * A domain error with a stable `code`. `detail` is a human explanation safe to show to the
 * client; it must not reveal secrets or whether an account exists.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, detail?: string, options: AppErrorOptions = {}) {
    const definition = errorDefinition(code);
    super(detail ?? definition.title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = definition.status;
    this.detail = detail;
    this.errors = options.errors;
    this.extra = options.extra;
    this.headers = options.headers;
  }
}

/** True when `error` is an {@link AppError}, optionally with the given code. */
export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}
