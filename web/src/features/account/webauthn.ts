/**
 * Passkeys (WebAuthn) in the browser: turns the server's JSON options (`@simplewebauthn/server`
 * shapes, binary fields base64url) into `navigator.credentials.create` arguments and the resulting
 * credential back into JSON, using the browser's own JSON helpers where it has them
 * (`PublicKeyCredential.parseCreationOptionsFromJSON`, `credential.toJSON`).
 */
import { base64urlToBytes, bytesToBase64url } from '../../api/webauthn';

/** Registration options as `POST /api/v1/users/me/passkeys/options` answers them. */
export interface CreationOptionsJson {
  challenge: string;
  user: { id: string; name: string; displayName: string };
  excludeCredentials?: Array<{ id: string; type: string; transports?: string[] }>;
  [field: string]: unknown;
}

export { passkeysSupported } from '../../api/webauthn';

type WithJsonHelpers = typeof PublicKeyCredential & {
  parseCreationOptionsFromJSON?: (json: unknown) => PublicKeyCredentialCreationOptions;
};

function creationOptions(json: CreationOptionsJson): PublicKeyCredentialCreationOptions {
  const helpers = window.PublicKeyCredential as WithJsonHelpers;
  if (typeof helpers.parseCreationOptionsFromJSON === 'function') return helpers.parseCreationOptionsFromJSON(json);
  return {
    ...(json as unknown as PublicKeyCredentialCreationOptions),
    challenge: base64urlToBytes(json.challenge),
    user: { ...json.user, id: base64urlToBytes(json.user.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map((c) => ({ ...c, type: 'public-key' as const, id: base64urlToBytes(c.id) })) as PublicKeyCredentialDescriptor[],
  };
}

function credentialJson(credential: PublicKeyCredential): unknown {
  const withJson = credential as PublicKeyCredential & { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return withJson.toJSON();
  const response = credential.response as AuthenticatorAttestationResponse;
  return {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: bytesToBase64url(response.clientDataJSON),
      attestationObject: bytesToBase64url(response.attestationObject),
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
