/**
 * "Download my data": one JSON document with what Gatehouse keeps about the signed-in user
 * (GDPR Art. 15 / 20: access and portability). It is assembled from the other features'
 * services through the narrow interfaces below (never their repositories), so each feature keeps
 * owning its own rows. Secrets are never part of it: no password hash, no TOTP secret, no token
 * or key hashes, no recovery codes (their count only).
 */
import type { ApiKeyView } from '../access/access.views.js';
import type { AuditEntryView } from '../audit/audit.views.js';
import type { IdentityView } from '../identities/identities.views.js';
import type { MfaStatus } from '../mfa/mfa.service.js';
import type { PasskeyView } from '../mfa/mfa.views.js';
import type { SessionView } from '../sessions/sessions.views.js';
import type { Clock } from '../shared/clock.js';
import type { UserRow } from '../db/schema.js';
import { toUserView, type UserView } from './accounts.service.js';

/** Version of the export document's shape; bumped when a field changes meaning. */
export const ACCOUNT_EXPORT_FORMAT = 'gatehouse.account-export/1';

/** How many audit entries one page of the export's audit read asks for (paged until the end). */
const AUDIT_PAGE = 500;

/** The user's data as `GET /api/v1/users/me/export` returns it. Times are ISO-8601 UTC strings. */
export interface AccountExport {
  format: typeof ACCOUNT_EXPORT_FORMAT;
  exported_at: string;
  user: UserView;
  sessions: SessionView[];
  api_keys: ApiKeyView[];
  identities: IdentityView[];
  two_factor: Omit<MfaStatus, 'required'>;
  passkeys: PasskeyView[];
  /** Audit entries whose actor is the user (their own actions), newest first. */
  activity: AuditEntryView[];
}

/** What the export reads from other features (their services satisfy these). */
export interface AccountExportSources {
  clock: Clock;
  sessions: { list(userId: string, currentSessionId: string | null): Promise<SessionView[]> };
  apiKeys: {
    list(query: { userId?: string | undefined; includeRevoked?: boolean; limit: number; afterId?: string | undefined }): Promise<{ items: ApiKeyView[]; next: string | null }>;
  };
  identities: { listOwn(userId: string): Promise<IdentityView[]> };
  mfa: { status(user: UserRow, required: boolean): Promise<MfaStatus>; listPasskeys(userId: string): Promise<PasskeyView[]> };
  audit: { list(query: { actorId?: string; beforeId?: string | undefined; limit: number }): Promise<{ items: AuditEntryView[]; next: string | null }> };
}

/** Builds {@link AccountExport} documents. */
export class AccountExportService {
  constructor(private readonly sources: AccountExportSources) {}

  /**
   * Everything kept about `user`, read at one moment (no transaction: each part is consistent on
   * its own, which is what a person reading their data needs).
   * @param currentSessionId the session asking, marked `current` in `sessions` (null for tokens).
   */
  async export(user: UserRow, currentSessionId: string | null): Promise<AccountExport> {
    const { sessions, identities, mfa } = this.sources;
    const [sessionList, keys, identityList, status, passkeys, activity] = await Promise.all([
      sessions.list(user.id, currentSessionId),
      this.allApiKeys(user.id),
      identities.listOwn(user.id),
      mfa.status(user, false),
      mfa.listPasskeys(user.id),
      this.allActivity(user.id),
    ]);
    const { required: _required, ...twoFactor } = status;
    return {
      format: ACCOUNT_EXPORT_FORMAT,
      exported_at: this.sources.clock.now().toISOString(),
      user: toUserView(user),
      sessions: sessionList,
      api_keys: keys,
      identities: identityList,
      two_factor: twoFactor,
      passkeys,
      activity,
    };
  }

  private async allApiKeys(userId: string): Promise<ApiKeyView[]> {
    const keys: ApiKeyView[] = [];
    let afterId: string | undefined;
    do {
      const page = await this.sources.apiKeys.list({ userId, includeRevoked: true, limit: 100, afterId });
      keys.push(...page.items);
      afterId = page.next ?? undefined;
    } while (afterId);
    return keys;
  }

  private async allActivity(userId: string): Promise<AuditEntryView[]> {
    const entries: AuditEntryView[] = [];
    let beforeId: string | undefined;
    do {
      const page = await this.sources.audit.list({ actorId: userId, beforeId, limit: AUDIT_PAGE });
      entries.push(...page.items);
      beforeId = page.next ?? undefined;
    } while (beforeId);
    return entries;
  }
}
