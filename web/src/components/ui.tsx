/**
 * The web app's building blocks. Native elements first (they come with keyboard handling and
 * accessible roles): every control has a visible label or an `aria-label`, errors are tied to
 * their field by `aria-describedby`, alerts use `role="alert"`, and each page names itself with
 * one `<h1>` that receives focus after client-side navigation.
 */
import { type ButtonHTMLAttributes, type InputHTMLAttributes, type ReactNode, useEffect, useId, useRef } from 'react';
import { ApiError } from '../api/client';
import { useMeta } from '../api/session';

/** False until the first page has shown: a fresh load leaves the focus at the top (the skip link comes first). */
let navigatedWithinApp = false;

/**
 * A page: sets the document title (`title · app name`) and renders its heading, which takes the
 * focus when the page is reached by a client-side navigation (not on a fresh load).
 */
export function Page({ title, children, actions, wide }: { title: string; children: ReactNode; actions?: ReactNode; wide?: boolean }) {
  const meta = useMeta();
  const heading = useRef<HTMLHeadingElement>(null);
  const appName = meta.data?.app.name ?? 'Gatehouse';
  useEffect(() => {
    document.title = `${title} · ${appName}`;
  }, [title, appName]);
  useEffect(() => {
    if (!navigatedWithinApp) {
      navigatedWithinApp = true;
      return;
    }
    // After a client-side navigation, screen readers announce the new page from its heading.
    if (document.activeElement === document.body || document.activeElement?.closest('nav, header, main')) heading.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <div className={wide ? 'page page-wide' : 'page'}>
      <div className="page-head">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </div>
      {children}
    </div>
  );
}

/** A labelled input with its error message. `error` may be the message or an {@link ApiError} naming `name`. */
export function Field({
  label,
  hint,
  error,
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: ReactNode; error?: string | undefined; name: string }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={error ? true : undefined} aria-describedby={[hintId, errorId].filter(Boolean).join(' ') || undefined} {...input} />
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A button that shows it is working and cannot be pressed twice. */
export function Button({ busy, children, variant, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; variant?: 'primary' | 'danger' | 'plain' }) {
  return (
    <button type="button" {...rest} className={`button ${variant ?? 'plain'} ${rest.className ?? ''}`} disabled={rest.disabled || busy} aria-busy={busy || undefined}>
      {children}
    </button>
  );
}

/** Shows a failed call's problem (its detail and field messages) as an alert; nothing when `error` is empty. */
export function ProblemAlert({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  const fields = error instanceof ApiError ? (error.problem.errors ?? []) : [];
  return (
    <div className="alert alert-error" role="alert">
      <p>{message}</p>
      {fields.length ? (
        <ul>
          {fields.map((field) => (
            <li key={field.field + field.message}>
              {field.field.replace(/^\//, '') || 'request'}: {field.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** A success or information message, announced politely. */
export function Notice({ children }: { children: ReactNode }) {
  return (
    <div className="alert alert-info" role="status">
      {children}
    </div>
  );
}

/** A loading placeholder that screen readers announce. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}

/**
 * A modal confirmation on the native `<dialog>` (focus trapped, Escape closes). `onConfirm` runs
 * when the confirming button is pressed; `open` is controlled by the caller.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onCancel,
  busy,
  danger,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  return (
    <dialog ref={dialog} aria-labelledby={titleId} onCancel={onCancel} onClose={onCancel} className="dialog">
      <h2 id={titleId}>{title}</h2>
      <div className="dialog-body">{children}</div>
      <div className="dialog-actions">
        <Button onClick={onCancel}>Cancel</Button>
        <Button variant={danger ? 'danger' : 'primary'} busy={busy} onClick={onConfirm}>
          {confirmLabel}
        </Button>
      </div>
    </dialog>
  );
}

/** Bytes for people: `1.5 MiB` (binary units, as the README and limits such as FILE_MAX_BYTES state them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** An ISO-8601 timestamp in the reader's locale and time zone, in a `<time>` element. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  const date = new Date(iso);
  return (
    <time dateTime={iso} title={date.toISOString()}>
      {date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}
    </time>
  );
}
