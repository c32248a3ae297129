/**
 * The daily admin digest email (template name `admin_digest`): new users and failures of the
 * last 24 hours, as a plain-text part and a simple, accessible HTML part (inline styles, `lang`,
 * a real table with header cells, contrast above WCAG AA).
 */
import { escapeHtml, type RenderedMail } from '../mail/templates.js';

/** What the digest reports; times are ISO-8601 UTC strings. */
export interface AdminDigest {
  appName: string;
  publicUrl: string;
  /** Recipient's display name (may be empty). */
  name: string;
  /** Start and end of the period covered. */
  since: string;
  until: string;
  /** Users created in the period, and up to a few of them to list. */
  newUserCount: number;
  newUsers: Array<{ email: string; name: string; created_at: string }>;
  /** Password logins that failed in the period. */
  failedLogins: number;
  /** Emails given up on (dead) in the period. */
  deadEmails: number;
  /** Scheduler task runs that failed in the period. */
  failedTaskRuns: number;
}

/** Renders the digest. Every value is escaped in the HTML part. */
export function adminDigestMail(digest: AdminDigest): RenderedMail {
  const counts: Array<[string, number]> = [
    ['New users', digest.newUserCount],
    ['Failed logins', digest.failedLogins],
    ['Undeliverable emails', digest.deadEmails],
    ['Failed scheduled tasks', digest.failedTaskRuns],
  ];
  const period = `${digest.since} to ${digest.until}`;
  const more = digest.newUserCount - digest.newUsers.length;
  const greeting = digest.name ? `Hello ${digest.name},` : 'Hello,';
  const text = [
    greeting,
    '',
    `Activity on ${digest.appName} from ${period} (UTC):`,
    '',
    ...counts.map(([label, value]) => `  ${label}: ${value}`),
    '',
    ...(digest.newUsers.length
      ? ['New users:', ...digest.newUsers.map((u) => `  ${u.email}${u.name ? ` (${u.name})` : ''}, ${u.created_at}`), ...(more > 0 ? [`  … and ${more} more`] : []), '']
      : []),
    `Dashboard: ${digest.publicUrl}/`,
    '',
    '--',
    'You receive this daily digest because you are an administrator.',
    '',
  ].join('\n');
  const cell = 'padding:6px 12px;border-bottom:1px solid #d9e2ec;text-align:left;font-size:15px;color:#1f2933';
  const rows = counts.map(([label, value]) => `<tr><th scope="row" style="${cell};font-weight:400">${escapeHtml(label)}</th><td style="${cell};font-weight:600">${value}</td></tr>`).join('\n');
  const users = digest.newUsers.length
    ? `<h2 style="margin:24px 0 8px;font-size:17px;color:#102a43">New users</h2>
<ul style="margin:0;padding-left:20px;font-size:15px;line-height:1.6;color:#1f2933">
${digest.newUsers.map((u) => `<li>${escapeHtml(u.email)}${u.name ? ` (${escapeHtml(u.name)})` : ''}, ${escapeHtml(u.created_at)}</li>`).join('\n')}
${more > 0 ? `<li>… and ${more} more</li>` : ''}
</ul>`
    : '';
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(digest.appName)} daily digest</title>
</head>
<body style="margin:0;padding:0;background:#f5f7fa;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif">
<main style="max-width:560px;margin:0 auto;padding:32px 24px">
<h1 style="margin:0 0 16px;font-size:22px;color:#102a43">Daily digest</h1>
<p style="margin:0 0 16px;font-size:16px;line-height:1.5;color:#1f2933">${escapeHtml(greeting)}</p>
<p style="margin:0 0 16px;font-size:16px;line-height:1.5;color:#1f2933">Activity on ${escapeHtml(digest.appName)} from ${escapeHtml(period)} (UTC):</p>
<table style="border-collapse:collapse;width:100%">
<caption style="text-align:left;font-size:13px;color:#52606d;padding-bottom:4px">Last 24 hours</caption>
${rows}
</table>
${users}
<p style="margin:24px 0 0;font-size:15px"><a href="${escapeHtml(digest.publicUrl)}/" style="color:#1d4ed8">${escapeHtml(digest.publicUrl)}/</a></p>
<hr style="border:none;border-top:1px solid #d9e2ec;margin:32px 0 16px">
<p style="margin:0;font-size:13px;line-height:1.5;color:#52606d">You receive this daily digest because you are an administrator.</p>
</main>
</body>
</html>
`;
  return { subject: `Daily digest: ${digest.newUserCount} new users, ${digest.failedLogins} failed logins — ${digest.appName}`, text, html };
}
