/**
 * What both passkey ceremonies share in the browser (sign-in in features/auth, registration in
 * features/account): whether passkeys exist here, and base64url ⇄ bytes for the binary fields of
 * WebAuthn's JSON forms (RFC 4648 §5, unpadded, as @simplewebauthn/server writes them).
 */

/** True when this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function' && Boolean(navigator.credentials);
}

/** Decodes unpadded base64url into bytes. */
export function base64urlToBytes(base64url: string): ArrayBuffer {
  let base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  while (base64.length % 4) base64 += '=';
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes.buffer;
}

/** Encodes bytes as unpadded base64url. */
export function bytesToBase64url(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let raw = '';
  for (const byte of bytes) raw += String.fromCharCode(byte);
  return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
