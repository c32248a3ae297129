/**
 * Notifications: turns events (see `events.ts`) into outbox messages, one per recipient and
 * channel, rendered from the templates (`templates.ts`), inside the caller's transaction so the
 * message exists exactly when the change does; the outbox delivers them after commit.
 *
 * Channels: `email` (SMTP, or .eml files without SMTP_URL), `mattermost` (incoming webhook,
 * Slack-compatible) and `webhook` (signed JSON). A channel carries messages when it is configured
 * and enabled in the configuration; an operator can pause it for every instance with
 * `gatehouse notify disable CHANNEL` (stored in `notify_channel`): messages are still queued and
 * wait, and `notify enable` lets them go. Nothing is lost either way.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database, OutboxRow, UserRow } from '../db/schema.js';
import { type AnyTx as Tx, inTransaction } from '../db/transaction.js';
import type { Outbox, OutboxMessage } from '../outbox/outbox.service.js';
import type { Clock } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { type AnyNotifyEventName, type AnyNotifyEvents, type Channel, CHANNELS, EVENT_ROUTES, type EventRoute, type NotifyEvents, type NotifyUser } from './events.js';
import { findNotifyUser, listActiveAdmins, listChannelSwitches, loginHistory, upsertChannelSwitch } from './notify.repo.js';
import type { TemplateData, TemplateRenderer } from './templates.js';

/** Options for {@link NotifyService}. */
export interface NotifyServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  outbox: Outbox;
  renderer: TemplateRenderer;
  appName: string;
  /** Base URL of the pages links open (FRONTEND_URL, else PUBLIC_URL), without trailing slash. */
  publicUrl: string;
  /** `ADMIN_EMAILS`: always receive admin notifications by email. */
  adminEmails: string[];
  /** Channels configured and enabled by configuration (the outbox has a transport for each). */
  configured: readonly Channel[];
  /** Where feature modules' events go (their templates are in the renderer). */
  moduleRoutes?: Readonly<Record<string, readonly EventRoute[]>>;
}

/** One channel as `gatehouse notify` shows it. */
export interface ChannelState {
  channel: Channel;
  /** Configured and enabled by configuration. */
  configured: boolean;
  /** Not paused by an operator (`notify disable`). */
  enabled: boolean;
  /** Messages are delivered now: configured and enabled. */
  active: boolean;
}

/** A sign-in lockout reported by the login throttle. */
export type LockoutReport = NotifyEvents['login.locked_out'];

/** The notification service: events in, outbox messages out. */
export class NotifyService {
  private readonly routes: Readonly<Record<string, readonly EventRoute[]>>;

  constructor(private readonly options: NotifyServiceOptions) {
    this.routes = { ...EVENT_ROUTES, ...options.moduleRoutes };
  }

  /**
   * Queues the messages of `event` in the caller's transaction and wakes the dispatcher after
   * commit. A template that fails to render (a broken override) is logged and skipped: a
   * notification never makes the change that caused it fail.
   * @param only restrict to one channel (`notify test`).
   * @returns the ids of the queued outbox messages.
   */
  async enqueue<E extends AnyNotifyEventName>(tx: Tx, event: E, data: AnyNotifyEvents[E], only?: Channel): Promise<string[]> {
    const ids: string[] = [];
    const routes = this.routes[event];
    if (!routes) throw new Error(`No module registered the notification event ${String(event)}.`);
    for (const route of routes) {
      for (const message of await this.messagesFor(tx, event, data, route, only)) {
        ids.push(await this.options.outbox.enqueueMessage(tx.db, message));
      }
    }
    if (ids.length) tx.afterCommit(() => this.options.outbox.wake());
    return ids;
  }

  /**
   * Sends `event` now, outside any other transaction: the public entry point for modules
   * without a transaction of their own (the job system's `job.failed`, `campaign.completed`).
   * @returns the ids of the queued outbox messages.
   */
  notify<E extends AnyNotifyEventName>(event: E, data: AnyNotifyEvents[E]): Promise<string[]> {
    return inTransaction(this.options.db, (tx) => this.enqueue(tx, event, data));
  }

  /**
   * The user `userId` as a `user` audience event names it (`data.user`), read through `tx` (a job
   * hook must not read outside its transaction: SQLite has one connection). @returns undefined
   * when the user no longer exists or is deactivated (then there is no one to tell).
   */
  async recipient(tx: Pick<Tx, 'db'>, userId: string): Promise<NotifyUser | undefined> {
    const user = await findNotifyUser(tx.db, userId);
    return user ? { id: user.id, email: user.email, name: user.name } : undefined;
  }

  /**
   * Queues a `notify.test` message on one channel (email: to `to`, or else to the admin
   * recipients) and delivers it at once from this process (or reports the attempt of a running
   * dispatcher that leased it first).
   * @returns each message after the attempt (status `sent`, or `pending`/`dead` with `last_error`).
   */
  async sendTest(channel: Channel, options: { to?: string | undefined; requestedBy: string }): Promise<OutboxRow[]> {
    const data = { requested_by: options.requestedBy };
    const ids = await inTransaction(this.options.db, async (tx) => {
      if (channel === 'email' && options.to) {
        const message = this.render('notify.test', data, EVENT_ROUTES['notify.test'][0] as EventRoute, 'email', {
          email: options.to,
          name: '',
        });
        return message ? [await this.options.outbox.enqueueMessage(tx.db, message)] : [];
      }
      return this.enqueue(tx, 'notify.test', data, channel);
    });
    const results: OutboxRow[] = [];
    for (const id of ids) {
      // This is often the CLI beside a running server, whose dispatcher may lease the new message
      // first: deliverNow then reports the outcome of that attempt.
      const { message } = await this.options.outbox.deliverNow(id);
      if (message) results.push(message);
    }
    return results;
  }

  /** Every channel with its configuration and switch. */
  async channelStates(): Promise<ChannelState[]> {
    const switches = await listChannelSwitches(this.options.db);
    return CHANNELS.map((channel) => {
      const configured = this.options.configured.includes(channel);
      const enabled = switches.find((s) => s.channel === channel)?.enabled ?? true;
      return { channel, configured, enabled, active: configured && enabled };
    });
  }

  /** The channels delivering now (the outbox dispatcher asks before each pass). */
  async activeChannels(): Promise<Channel[]> {
    return (await this.channelStates()).filter((s) => s.active).map((s) => s.channel);
  }

  /** Pauses (`false`) or resumes (`true`) a channel for every instance. */
  async setChannelEnabled(channel: Channel, enabled: boolean): Promise<void> {
    await upsertChannelSwitch(this.options.db, channel, enabled, this.options.clock.now().toISOString());
    if (enabled) this.options.outbox.wake();
  }

  /**
   * Admin email recipients: `ADMIN_EMAILS` plus active admins whose profile has
   * `notify_admin: true`, case-insensitively de-duplicated.
   */
  async adminRecipients(db: Tx['db'] | Kysely<Database> = this.options.db): Promise<Array<{ email: string; name: string }>> {
    const recipients = new Map<string, { email: string; name: string }>();
    for (const email of this.options.adminEmails) recipients.set(email.toLowerCase(), { email, name: '' });
    for (const admin of await listActiveAdmins(db)) {
      let optedIn = false;
      try {
        optedIn = (JSON.parse(admin.profile) as Record<string, unknown>).notify_admin === true;
      } catch {
        // A profile that is not JSON opts in to nothing.
      }
      if (optedIn) recipients.set(admin.email.toLowerCase(), { email: admin.email, name: admin.name });
    }
    return [...recipients.values()];
  }

  /**
   * Called after a password was proven and before the sign-in is recorded: emails the user
   * when this IP/user-agent pair never appeared in their sessions or successful logins, unless
   * they never signed in before (their first sign-in is not news). Never throws.
   */
  async passwordVerified(user: UserRow, client: { ip: string | null; userAgent: string | null }): Promise<void> {
    try {
      const history = await loginHistory(this.options.db, user.id, client.ip, client.userAgent);
      if (!history.hasHistory || history.pairSeen) return;
      await this.notify('user.new_login', {
        user: notifyUser(user),
        ip: client.ip,
        user_agent: client.userAgent,
        at: this.options.clock.now().toISOString(),
        reset_url: `${this.options.publicUrl}/forgot-password`,
      });
    } catch (error) {
      this.options.logger.error({ err: error, userId: user.id }, 'could not queue the new sign-in notice');
    }
  }

  /** Tells the admins about a sign-in lockout (from the login throttle). Never throws. */
  lockedOut(report: LockoutReport): void {
    this.notify('login.locked_out', report).catch((error: unknown) => {
      this.options.logger.error({ err: error }, 'could not queue the lockout notice');
    });
  }

  private async messagesFor<E extends AnyNotifyEventName>(
    tx: Tx,
    event: E,
    data: AnyNotifyEvents[E],
    route: EventRoute,
    only: Channel | undefined,
  ): Promise<OutboxMessage[]> {
    const wanted = (channel: Channel) => this.options.configured.includes(channel) && (!only || only === channel);
    const messages: Array<OutboxMessage | null> = [];
    if (route.audience === 'user') {
      const user = (data as { user?: NotifyUser }).user;
      if (user && wanted('email')) messages.push(this.render(event, data, route, 'email', user));
      return messages.filter((m) => m !== null);
    }
    if (wanted('email')) {
      for (const admin of await this.adminRecipients(tx.db)) messages.push(this.render(event, data, route, 'email', admin));
    }
    if (wanted('mattermost')) messages.push(this.render(event, data, route, 'mattermost'));
    if (wanted('webhook')) messages.push(this.render(event, data, route, 'webhook'));
    return messages.filter((m) => m !== null);
  }

  private render(
    event: AnyNotifyEventName,
    data: AnyNotifyEvents[AnyNotifyEventName],
    route: EventRoute,
    channel: Channel,
    recipient?: { email: string; name: string },
  ): OutboxMessage | null {
    const occurredAt = this.options.clock.now().toISOString();
    const templateData: TemplateData = {
      ...data,
      appName: this.options.appName,
      publicUrl: this.options.publicUrl,
      event,
      occurred_at: occurredAt,
      name: recipient?.name ?? '',
    };
    try {
      if (channel === 'email') {
        const mail = this.options.renderer.renderEmail(route.template, templateData);
        return {
          channel,
          recipient: recipient?.email ?? '',
          subject: mail.subject,
          body: JSON.stringify({ text: mail.text, html: mail.html }),
          template: route.template,
        };
      }
      const text = this.options.renderer.renderMessage(route.template, channel, templateData);
      const body =
        channel === 'mattermost'
          ? JSON.stringify({ text })
          : JSON.stringify({ id: newId(), event, occurred_at: occurredAt, text, data });
      return { channel, recipient: channel, subject: event, body, template: route.template };
    } catch (error) {
      this.options.logger.error(
        { err: error, event, channel, template: route.template },
        'notification template failed to render; message skipped',
      );
      return null;
    }
  }
}

/** The user fields events carry. */
export function notifyUser(user: Pick<UserRow, 'id' | 'email' | 'name'>): NotifyUser {
  return { id: user.id, email: user.email, name: user.name };
}
