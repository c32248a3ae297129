/**
 * A real SMTP server (the `smtp-server` package) that accepts every message and keeps it,
 * parsed with `mailparser`, so tests can read the emails Gatehouse sends.
 */
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Recorder } from './recorder.js';

/** One received email. */
export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
}

/** A running SMTP sink. */
export interface SmtpSink {
  port: number;
  /** `smtp://127.0.0.1:<port>` */
  url: string;
  messages: ReceivedMail[];
  /** Resolves with the first message (already received or arriving later) matching `predicate`. */
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  stop(): Promise<void>;
}

function addressText(parsed: ParsedMail): string {
  const to = parsed.to;
  if (!to) return '';
  return (Array.isArray(to) ? to : [to]).map((a) => a.value.map((v) => v.address).join(',')).join(',');
}

/**
 * Starts the sink on `port` (0 = any free port).
 * @param options.port fixed port, to restart a sink where a server expects it.
 */
export async function startSmtpSink(options: { port?: number } = {}): Promise<SmtpSink> {
  const received = new Recorder<ReceivedMail>('email', (mails) => mails.map((m) => `${m.to}: ${m.subject}`).join(' | '));
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const mail: ReceivedMail = {
            to: addressText(parsed),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            messageId: parsed.messageId ?? '',
          };
          received.record(mail);
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: received.items,
    waitFor: (predicate, timeoutMs) => received.waitFor(predicate, timeoutMs),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Extracts the first `{base}/<path>?token=…` link's token from an email's text. */
export function tokenFromMail(mail: ReceivedMail, pathName: string): string {
  const match = new RegExp(`${pathName}\\?token=([A-Za-z0-9_%-]+)`).exec(mail.text);
  if (!match?.[1]) throw new Error(`no ${pathName} link in email "${mail.subject}": ${mail.text}`);
  return decodeURIComponent(match[1]);
}
