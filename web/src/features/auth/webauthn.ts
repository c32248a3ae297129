/**
 * Passkey sign-in in the browser: turns the server's JSON request options
 * (`POST /api/v1/auth/passkey/options`, base64url for binary fields, as @simplewebauthn/server
 * makes them) into `navigator.credentials.get` options and the assertion back into JSON, with the
 * browser's own `parseRequestOptionsFromJSON` / `toJSON` where it has them.
 */

/** The JSON form of PublicKeyCredentialRequestOptions (WebAuthn Level 3). */
export interface RequestOptionsJson {
  challenge: string;
  allowCredentials?: Array<{ id: string; type: string; transports?: string[] }>;
  [member: string]: unknown;
}

/** A credential as JSON (what `POST /api/v1/auth/passkey` takes as `response`). */
export type CredentialJson = Record<string, unknown>;

interface JsonAwarePublicKeyCredential {
  parseRequestOptionsFromJSON?: (json: RequestOptionsJson) => PublicKeyCredentialRequestOptions;
}

/** True when this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window.PublicKeyCredential === 'function' && Boolean(navigator.credentials);
}

function toBytes(base64url: string): ArrayBuffer {
  let base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  while (base64.length % 4) base64 += '=';
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes.buffer;
}

function toBase64url(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let raw = '';
  for (const byte of bytes) raw += String.fromCharCode(byte);
  return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function requestOptions(json: RequestOptionsJson): PublicKeyCredentialRequestOptions {
  const native = (window.PublicKeyCredential as unknown as JsonAwarePublicKeyCredential).parseRequestOptionsFromJSON;
  if (native) return native(json);
  return {
    ...(json as unknown as PublicKeyCredentialRequestOptions),
    challenge: toBytes(json.challenge),
    allowCredentials: (json.allowCredentials ?? []).map((c) => ({ ...c, type: 'public-key', id: toBytes(c.id) }) as PublicKeyCredentialDescriptor),
  };
}

function credentialJson(credential: PublicKeyCredential): CredentialJson {
  const withJson = credential as PublicKeyCredential & { toJSON?: () => CredentialJson };
  if (typeof withJson.toJSON === 'function') return withJson.toJSON();
  const r = credential.response as AuthenticatorAssertionResponse;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(r.clientDataJSON),
      authenticatorData: toBase64url(r.authenticatorData),
      signature: toBase64url(r.signature),
      ...(r.userHandle ? { userHandle: toBase64url(r.userHandle) } : {}),
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
  };
}

/**
 * Asks the browser for a passkey of this site with `options` (JSON).
 * @returns the assertion as JSON.
 * @throws DOMException (e.g. `NotAllowedError` when the person cancels or has no passkey here).
 */
export async function getPasskeyAssertion(options: RequestOptionsJson): Promise<CredentialJson> {
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
  if (!credential) throw new Error('No passkey was chosen.');
  return credentialJson(credential as PublicKeyCredential);
}
