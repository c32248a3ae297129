/**
 * Every notification Gatehouse sends, in one typed map (`noun.verb` names, after
 * graphile-worker's event map), and where each one goes.
 *
 * An event has one or more routes. A `user` route is an email to the user the event is about;
 * an `admins` route goes to the administrators: by email (`ADMIN_EMAILS` plus admins who opted
 * in with the profile key `notify_admin: true`) and to Mattermost and the webhook. User routes
 * never go to Mattermost or the webhook: their emails carry sign-in links and tokens.
 */

/** The channels a notification can travel on. */
export const CHANNELS = ['email', 'mattermost', 'webhook'] as const;

/** One of {@link CHANNELS}. */
export type Channel = (typeof CHANNELS)[number];

/** The user an event is about, as templates see them. */
export interface NotifyUser {
  id: string;
  email: string;
  /** Display name; may be empty. */
  name: string;
}

/**
 * Payload of each event (templates read these fields as `it.<field>`). Times are ISO-8601 UTC.
 * No payload uses the names every template gets (`appName`, `publicUrl`, `event`, `occurred_at`, `name`).
 */
export interface NotifyEvents {
  /** An account was created by self-service registration (admins are told). */
  'user.registered': { user: NotifyUser };
  /** A verification link was issued at registration or on resend (`url` carries the single-use token). */
  'user.verification_requested': { user: NotifyUser; url: string; ttl_hours: number };
  /** Someone tried to register with the email of an existing account (its owner is told). */
  'user.registration_attempted': { user: NotifyUser; login_url: string; reset_url: string };
  /** The user confirmed their email address: the welcome email. */
  'user.verified': { user: NotifyUser; login_url: string };
  /** A password reset link was issued (`url` carries the single-use token). */
  'user.password_reset_requested': { user: NotifyUser; url: string; ttl_minutes: number };
  /** The password was changed or reset. */
  'user.password_changed': { user: NotifyUser; reset_url: string; changed_at: string };
  /**
   * Every API key of the user was revoked (`count` of them) because the password was reset or
   * changed (`reason`).
   */
  'user.api_keys_revoked': {
    user: NotifyUser;
    count: number;
    reason: 'password_reset' | 'password_change';
    revoked_at: string;
    reset_url: string;
  };
  /**
   * The user asked to change their email address: the confirmation link goes to the NEW address
   * (`user.email` is the new address; `url` carries the single-use token).
   */
  'user.email_change_requested': { user: NotifyUser; url: string; ttl_hours: number };
  /** The email address was changed: the notice goes to the OLD address (`user.email`); `new_email` is the new one. */
  'user.email_changed': { user: NotifyUser; new_email: string; changed_at: string; reset_url: string };
  /** The user changed their own name or profile (`fields`: `name`, `profile`). */
  'user.profile_updated': { user: NotifyUser; fields: string[]; updated_at: string; reset_url: string };
  /** The account was deactivated (by its owner or an administrator). */
  'user.deactivated': { user: NotifyUser; deactivated_at: string };
  /** The account was banned (`until` null = indefinitely; `automatic` = by the API quota). User and admins are told. */
  'user.banned': { user: NotifyUser; until: string | null; reason: string; automatic: boolean };
  /** The ban was lifted. */
  'user.unbanned': { user: NotifyUser; login_url: string };
  /** A sign-in from an IP address and browser (user agent) pair this account never used before. */
  'user.new_login': { user: NotifyUser; ip: string | null; user_agent: string | null; at: string; reset_url: string };
  /**
   * Someone signed in with a provider account (`provider`: its display name) whose verified
   * email is this account's, and asked to link it by email: the confirmation link (`url` carries
   * the single-use token) goes to the account's address.
   */
  'user.identity_link_requested': { user: NotifyUser; provider: string; url: string; ttl_minutes: number };
  /** A provider account (`provider`: its display name) was linked: it can sign in to this account from now on. */
  'user.identity_linked': { user: NotifyUser; provider: string; linked_at: string; reset_url: string };
  /**
   * Repeated failed sign-ins locked out an email/IP pair (`scope: 'account'`) or an IP for the
   * day (`scope: 'ip'`); `email` is as typed and may belong to no account (admins are told).
   */
  'login.locked_out': { scope: 'account' | 'ip'; email: string | null; ip: string | null; failures: number; lockout_seconds: number };
  /** A job failed for good (no attempts left). Hook for the job system (admins are told). */
  'job.failed': { job_id: string; queue: string; error: string; attempts: number; url: string | null };
  /** A campaign finished all its runs. Hook for the job system (admins are told). */
  'campaign.completed': {
    campaign_id: string;
    campaign_name: string;
    runs_completed: number;
    best_result: string | null;
    url: string | null;
  };
  /**
   * The user's second factors changed (`change`: what happened, in words, e.g. "Two-factor
   * authentication was turned on"): enrol, disable, an administrator's reset, recovery codes,
   * passkeys added or removed.
   */
  'user.mfa_changed': { user: NotifyUser; change: string; at: string; reset_url: string };
  /** A test message sent by `gatehouse notify test --channel …`. */
  'notify.test': { requested_by: string };
}

/** The name of an event. */
export type NotifyEventName = keyof NotifyEvents;

/**
 * Events that feature modules add (src/modules/contract.ts, `notifications`), declared for the
 * type checker by merging: `declare module '…/notify/events.js' { interface ModuleNotifyEvents {
 * 'tally.failed': { user: NotifyUser; … } } }`. Their routes and templates are registered at
 * start-up.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModuleNotifyEvents {}

/** Every event: the platform's and the modules'. */
export type AnyNotifyEvents = NotifyEvents & ModuleNotifyEvents;

/** The name of any event. */
export type AnyNotifyEventName = keyof AnyNotifyEvents;

/** Who receives one route of an event. */
export type Audience = 'user' | 'admins';

/** One destination of an event: an audience and the template used for it. */
export interface EventRoute {
  audience: Audience;
  /** Template base name: files are `<template>.email.{subject,text,html}`, `<template>.mattermost`, `<template>.webhook`. */
  template: string;
}

/** Where each event goes. The legacy email template names (`verify_email`, …) are kept: they are stored in `outbox.template`. */
export const EVENT_ROUTES: { readonly [E in NotifyEventName]: readonly EventRoute[] } = {
  'user.registered': [{ audience: 'admins', template: 'admin_user_registered' }],
  'user.verification_requested': [{ audience: 'user', template: 'verify_email' }],
  'user.registration_attempted': [{ audience: 'user', template: 'registration_attempt' }],
  'user.verified': [{ audience: 'user', template: 'welcome' }],
  'user.password_reset_requested': [{ audience: 'user', template: 'reset_password' }],
  'user.password_changed': [{ audience: 'user', template: 'password_changed' }],
  'user.api_keys_revoked': [{ audience: 'user', template: 'api_keys_revoked' }],
  'user.email_change_requested': [{ audience: 'user', template: 'confirm_email_change' }],
  'user.email_changed': [{ audience: 'user', template: 'email_changed' }],
  'user.profile_updated': [{ audience: 'user', template: 'profile_updated' }],
  'user.deactivated': [{ audience: 'user', template: 'account_deactivated' }],
  'user.banned': [
    { audience: 'user', template: 'account_banned' },
    { audience: 'admins', template: 'admin_user_banned' },
  ],
  'user.unbanned': [{ audience: 'user', template: 'account_unbanned' }],
  'user.new_login': [{ audience: 'user', template: 'new_login' }],
  'user.identity_link_requested': [{ audience: 'user', template: 'identity_link_requested' }],
  'user.identity_linked': [{ audience: 'user', template: 'identity_linked' }],
  'login.locked_out': [{ audience: 'admins', template: 'admin_login_locked_out' }],
  'job.failed': [{ audience: 'admins', template: 'admin_job_failed' }],
  'campaign.completed': [{ audience: 'admins', template: 'admin_campaign_completed' }],
  'user.mfa_changed': [{ audience: 'user', template: 'mfa_changed' }],
  'notify.test': [{ audience: 'admins', template: 'test_message' }],
};

/** True when `value` names a channel. */
export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}
