/**
 * Passkey sign-in in the browser: turns the server's JSON request options
 * (`POST /api/v1/auth/passkey/options`, base64url for binary fields, as @simplewebauthn/server
 * makes them) into `navigator.credentials.get` options and the assertion back into JSON, with the
 * browser's own `parseRequestOptionsFromJSON` / `toJSON` where it has them.
 */
import { base64urlToBytes, bytesToBase64url } from '../../api/webauthn';

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

export { passkeysSupported } from '../../api/webauthn';

function requestOptions(json: RequestOptionsJson): PublicKeyCredentialRequestOptions {
  const native = (window.PublicKeyCredential as unknown as JsonAwarePublicKeyCredential).parseRequestOptionsFromJSON;
  if (native) return native(json);
  return {
    ...(json as unknown as PublicKeyCredentialRequestOptions),
    challenge: base64urlToBytes(json.challenge),
    allowCredentials: (json.allowCredentials ?? []).map((c) => ({ ...c, type: 'public-key', id: base64urlToBytes(c.id) }) as PublicKeyCredentialDescriptor),
  };
}

function credentialJson(credential: PublicKeyCredential): CredentialJson {
  const withJson = credential as PublicKeyCredential & { toJSON?: () => CredentialJson };
  if (typeof withJson.toJSON === 'function') return withJson.toJSON();
  const r = credential.response as AuthenticatorAssertionResponse;
  return {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: bytesToBase64url(r.clientDataJSON),
      authenticatorData: bytesToBase64url(r.authenticatorData),
      signature: bytesToBase64url(r.signature),
      ...(r.userHandle ? { userHandle: bytesToBase64url(r.userHandle) } : {}),
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
