/** The `notify` configuration section: notification channels (src/notify/). */
import path from 'node:path';
import { z } from 'zod';
import { booleanString, ConfigError, type ParsedShape } from './schema.js';

/** The `notify` section of the configuration. Each channel is on when configured, unless its NOTIFY_*_ENABLED is false. */
export interface NotifyConfig {
  /** Email notifications (SMTP, or .eml files without SMTP_URL). Default true. */
  emailEnabled: boolean;
  /** Mattermost/Slack incoming webhook URL (a credential: never logged); null = channel off. */
  mattermostWebhookUrl: string | null;
  /** Generic webhook URL; null = channel off. */
  webhookUrl: string | null;
  /** Key of the webhook's HMAC-SHA256 signature; set whenever `webhookUrl` is. */
  webhookSecret: string | null;
  /** Addresses that always receive admin notifications by email. */
  adminEmails: string[];
  /** Directory of template overrides (`<template>.eta`); null = built-in templates only. Absolute path. */
  templatesDir: string | null;
}

/** The section's environment variables. */
export const notifyEnvShape = {
  NOTIFY_EMAIL_ENABLED: booleanString.default(true),
  MATTERMOST_WEBHOOK_URL: z.string().url('must be an absolute URL').refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://').optional(),
  NOTIFY_MATTERMOST_ENABLED: booleanString.optional(),
  WEBHOOK_URL: z.string().url('must be an absolute URL').refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://').optional(),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  NOTIFY_WEBHOOK_ENABLED: booleanString.optional(),
  ADMIN_EMAILS: z
    .string()
    .regex(/^\s*[^\s,@]+@[^\s,@]+(\s*,\s*[^\s,@]+@[^\s,@]+)*\s*,?\s*$/, 'must be a comma-separated list of email addresses')
    .optional(),
  TEMPLATES_DIR: z.string().min(1).optional(),
};

/**
 * Builds the section from the parsed variables. A channel variable set to true without its URL,
 * or WEBHOOK_URL without WEBHOOK_SECRET (unsigned webhooks could be forged), is an error.
 * @throws ConfigError naming the missing variables.
 */
export function notifySettings(e: ParsedShape<typeof notifyEnvShape>): NotifyConfig {
  const problems: string[] = [];
  if (e.NOTIFY_MATTERMOST_ENABLED === true && !e.MATTERMOST_WEBHOOK_URL) {
    problems.push('MATTERMOST_WEBHOOK_URL: required when NOTIFY_MATTERMOST_ENABLED is true');
  }
  if (e.NOTIFY_WEBHOOK_ENABLED === true && !e.WEBHOOK_URL) problems.push('WEBHOOK_URL: required when NOTIFY_WEBHOOK_ENABLED is true');
  if (e.WEBHOOK_URL && !e.WEBHOOK_SECRET) problems.push('WEBHOOK_SECRET: required when WEBHOOK_URL is set');
  if (problems.length) throw new ConfigError(problems);
  const mattermostOn = e.NOTIFY_MATTERMOST_ENABLED ?? true;
  const webhookOn = e.NOTIFY_WEBHOOK_ENABLED ?? true;
  return {
    emailEnabled: e.NOTIFY_EMAIL_ENABLED,
    mattermostWebhookUrl: mattermostOn ? (e.MATTERMOST_WEBHOOK_URL ?? null) : null,
    webhookUrl: webhookOn ? (e.WEBHOOK_URL ?? null) : null,
    webhookSecret: webhookOn ? (e.WEBHOOK_SECRET ?? null) : null,
    adminEmails: (e.ADMIN_EMAILS ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    templatesDir: e.TEMPLATES_DIR ? path.resolve(e.TEMPLATES_DIR) : null,
  };
}
