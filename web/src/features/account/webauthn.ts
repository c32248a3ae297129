/**
 * Passkeys (WebAuthn) in the browser: turns the server's JSON options (`@simplewebauthn/server`
 * shapes, binary fields base64url) into `navigator.credentials.create` arguments and the resulting
 * credential back into JSON, using the browser's own JSON helpers where it has them
 * (`PublicKeyCredential.parseCreationOptionsFromJSON`, `credential.toJSON`).
 */

/** Registration options as `POST /api/v1/users/me/passkeys/options` answers them. */
export interface CreationOptionsJson {
  challenge: string;
  user: { id: string; name: string; displayName: string };
  excludeCredentials?: Array<{ id: string; type: string; transports?: string[] }>;
  [field: string]: unknown;
}

/** True when this browser can create passkeys. */
export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && 'PublicKeyCredential' in window && Boolean(navigator.credentials);
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

type WithJsonHelpers = typeof PublicKeyCredential & {
  parseCreationOptionsFromJSON?: (json: unknown) => PublicKeyCredentialCreationOptions;
};

function creationOptions(json: CreationOptionsJson): PublicKeyCredentialCreationOptions {
  const helpers = window.PublicKeyCredential as WithJsonHelpers;
  if (typeof helpers.parseCreationOptionsFromJSON === 'function') return helpers.parseCreationOptionsFromJSON(json);
  return {
    ...(json as unknown as PublicKeyCredentialCreationOptions),
    challenge: toBytes(json.challenge),
    user: { ...json.user, id: toBytes(json.user.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map((c) => ({ ...c, type: 'public-key' as const, id: toBytes(c.id) })) as PublicKeyCredentialDescriptor[],
  };
}

function credentialJson(credential: PublicKeyCredential): unknown {
  const withJson = credential as PublicKeyCredential & { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return withJson.toJSON();
  const response = credential.response as AuthenticatorAttestationResponse;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      transports: typeof response.getTransports === 'function' ? response.getTransports() : [],
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
  };
}

/**
 * Creates a passkey from registration options; resolves with the credential as JSON, ready for
 * `POST /api/v1/users/me/passkeys`. @throws the browser's DOMException when the person cancels
 * or no authenticator is available.
 */
export async function createPasskey(json: CreationOptionsJson): Promise<unknown> {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(json) });
  if (!credential) throw new Error('The browser returned no passkey.');
  return credentialJson(credential as PublicKeyCredential);
}
