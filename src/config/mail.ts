/** The `mail` configuration section: SMTP and the outbox dispatcher (src/outbox/). */
import { z } from 'zod';
import { type ParsedShape, positiveInt } from './schema.js';

/** The `mail` section of the configuration. */
export interface MailConfig {
  /** `smtp://` or `smtps://` URL; `null` writes each email as an .eml file under `DATA_DIR/mail`. */
  smtpUrl: string | null;
  /** Sender address, e.g. `Gatehouse <no-reply@example.com>`. */
  from: string;
  /** Attempts before an outbox message is marked dead. */
  maxAttempts: number;
  /** Seconds between outbox polls when nothing wakes the dispatcher sooner. */
  pollSeconds: number;
}

/** The section's environment variables. */
export const mailEnvShape = {
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
    .optional(),
  MAIL_FROM: z.string().min(3).default('Gatehouse <no-reply@localhost>'),
  MAIL_MAX_ATTEMPTS: positiveInt(100).default(12),
  MAIL_POLL_SECONDS: positiveInt(3600).default(5),
};

/** Builds the section from the parsed variables. */
export function mailSettings(e: ParsedShape<typeof mailEnvShape>): MailConfig {
  return {
    smtpUrl: e.SMTP_URL ?? null,
    from: e.MAIL_FROM,
    maxAttempts: e.MAIL_MAX_ATTEMPTS,
    pollSeconds: e.MAIL_POLL_SECONDS,
  };
}
