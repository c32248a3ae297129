/**
 * Mail transports: SMTP through nodemailer when `SMTP_URL` is set, otherwise a "mail drop" that
 * writes each message as an `.eml` file under `DATA_DIR/mail/` (so a newcomer without an SMTP
 * server can still open the verification link). Also the {@link DeliveryTransport} contract the
 * outbox dispatcher uses for every channel (email here; Mattermost and webhook in `src/notify/`).
 */
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Nodemailer from 'nodemailer';
import type { OutboxRow, OutboxTable } from '../db/schema.js';
import { ensurePrivateDirAsync, PRIVATE_FILE_MODE } from '../shared/private-files.js';

/** The channels the outbox carries. */
export type OutboxChannel = OutboxTable['channel'];

/**
 * Delivers stored outbox messages of one channel. `deliver` rejects when the delivery failed
 * (the outbox then retries with backoff); it must give up well within the outbox lease (60 s).
 */
export interface DeliveryTransport {
  readonly channel: OutboxChannel;
  /** Human description for logs; never contains a secret (webhook URLs do, so they are not shown). */
  readonly description: string;
  /** Sends one message; resolves to the file written, for the email file transport. */
  deliver(message: OutboxRow): Promise<{ file?: string } | void>;
  close(): void;
}

/** The email channel over a {@link MailTransport}: `body` is `{ text, html }`, sent from `from`. */
export function emailDelivery(transport: MailTransport, from: string): DeliveryTransport {
  return {
    channel: 'email',
    description: transport.description,
    deliver(message) {
      const { text, html } = (typeof message.body === 'string' ? JSON.parse(message.body) : message.body) as {
        text: string;
        html: string;
      };
      return transport.send({ from, to: message.recipient, subject: message.subject, text, html, messageId: message.id });
    },
    close: () => transport.close(),
  };
}

/** A rendered message ready to send. */
export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable Message-ID (the outbox id), so a retried delivery is recognisable as a duplicate. */
  messageId: string;
}

/** Something that can deliver a {@link MailMessage}; rejects when delivery failed. */
/** The message as nodemailer sends it, for both transports: the outbox id becomes the Message-ID. */
function nodemailerMessage(message: MailMessage) {
  return {
    from: message.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    messageId: `<${message.messageId}@gatehouse>`,
  };
}

export interface MailTransport {
  /** Human description for logs, e.g. `smtp://mail.example.com:587` or `files in ./data/mail`. */
  readonly description: string;
  /** Delivers the message; resolves to the file written, for the file transport. */
  send(message: MailMessage): Promise<{ file?: string } | void>;
  close(): void;
}

/**
 * nodemailer, loaded on first use: a command that sends no mail does not pay for loading it
 * (about a tenth of a second).
 */
function loadNodemailer(): typeof Nodemailer {
  return createRequire(import.meta.url)('nodemailer') as typeof Nodemailer;
}

/** Upper bound, in milliseconds, on how long one SMTP send can take with the timeouts below. */
export const SMTP_SEND_TIMEOUT_BUDGET_MS = 40_000;

/** Sends through an SMTP server (pooled connections). Credentials in the URL are never logged. */
export function createSmtpTransport(smtpUrl: string): MailTransport {
  const transporter = loadNodemailer().createTransport({
    url: smtpUrl,
    // Reuse connections: a new SMTP handshake per message costs more than the message.
    pool: true,
    maxConnections: 2,
    // Every timeout stays well below the outbox lease (SMTP_SEND_TIMEOUT_BUDGET_MS), so a stalled
    // send fails before another dispatcher may take the same message over.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  const url = new URL(smtpUrl);
  return {
    description: `${url.protocol}//${url.host}`,
    async send(message) {
      await transporter.sendMail(nodemailerMessage(message));
    },
    close: () => transporter.close(),
  };
}

/**
 * Writes each message to `<dir>/<time>-<id>.eml`, mode 0600 in a directory created 0700: the
 * messages carry sign-in, verification and reset links.
 */
export function createFileTransport(dir: string): MailTransport {
  const build = () => loadNodemailer().createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  // Built at the first message (loading nodemailer then), not when Gatehouse is assembled.
  let transporter: ReturnType<typeof build> | undefined;
  return {
    description: `files in ${dir}`,
    async send(message) {
      await ensurePrivateDirAsync(dir);
      transporter ??= build();
      const info = await transporter.sendMail(nodemailerMessage(message));
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const file = path.join(dir, `${stamp}-${message.messageId}.eml`);
      await writeFile(file, info.message as Buffer, { mode: PRIVATE_FILE_MODE });
      return { file };
    },
    close: () => transporter?.close(),
  };
}
