/**
 * Shared TypeBox schemas: they validate requests, shape (and speed up) responses, and generate
 * the OpenAPI document, all from one definition.
 */
import { type Static, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';

/** RFC 9457 problem document. Extension members are allowed. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI reference identifying the problem type; documented at this path.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.String({ description: 'Stable machine-readable error code.' }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'Field-level validation problems.',
      }),
    ),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem document' },
);

/** A reference to {@link ProblemSchema} for response maps. */
export const ProblemRef = Type.Ref('Problem');

/** `{ 400: Problem, 401: Problem, … }` for the given statuses. */
export function problemResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ProblemRef]));
}

/** Email address field: trimmed by the service, bounded by RFC 5321's 254 characters. */
export const EmailSchema = Type.String({ format: 'email', maxLength: 254, description: 'Email address' });

/** Password field; the strength policy is applied by the service (10..256 characters, zxcvbn). */
export const PasswordSchema = Type.String({ minLength: 1, maxLength: 256, description: 'Password, 10 to 256 characters' });

/**
 * A password being set (register, reset, change). The schema only bounds the input (1024
 * characters, so oversize strings never reach argon2); the policy of 10..256 characters and
 * zxcvbn is the service's, so a password that is too long gets 422 `weak_password` just like
 * one that is too short, rather than a 400 from the schema.
 */
export const NewPasswordSchema = Type.String({ minLength: 1, maxLength: 1024, description: 'New password, 10 to 256 characters' });

/** Opaque token field (verification, reset, refresh). */
export const OpaqueTokenSchema = Type.String({ minLength: 1, maxLength: 512 });

/** The signed-in user's own view of their account. */
export const UserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    name: Type.String(),
    email_verified: Type.Boolean(),
    role: Type.Union([Type.Literal('user'), Type.Literal('admin'), Type.Literal('worker')]),
    profile: Type.Object({}, { additionalProperties: true }),
    created_at: Type.String({ format: 'date-time' }),
    has_password: Type.Boolean({
      description:
        'Whether the account has a password. False for accounts made by a provider or passkey sign-in: they re-authenticate (e.g. before `DELETE /users/me`) by signing in again, and can set a password with "forgot password".',
    }),
  },
  { $id: 'User' },
);

/**
 * A `$ref` to a registered component schema (one with an `$id`), typed as that schema: the
 * OpenAPI document names the component, and `Static<>` of a schema containing the reference still
 * sees its fields (TypeBox 0.34's `Type.Ref('Name')` is typed `unknown`).
 */
export function RefTo<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  if (!schema.$id) throw new Error('RefTo needs a schema with an $id (a registered component).');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

/**
 * `schema` or null, written as a type list (`type: [<its type>, "null"]`, JSON Schema 2020-12 and
 * OpenAPI 3.1) rather than `anyOf: [schema, {type: "null"}]`. Both describe the same values, but
 * the response serialiser (fast-json-stringify) picks an `anyOf` branch by running ajv on the
 * value each time (for a date-time, the format's regular expressions on every field of every
 * response), while a type list costs it a `typeof` check.
 * @throws Error when `schema` has no single `type` (a `$ref`, a union).
 */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  if (typeof schema.type !== 'string') throw new Error('Nullable needs a schema of one type (not a $ref or a union).');
  return Type.Unsafe<Static<T> | null>(Object.assign({}, schema, { type: [schema.type, 'null'] }));
}

/** A reference to {@link UserSchema}. */
export const UserRef = Type.Ref('User');

/** `{ message }` acknowledgement body for 202 responses. */
export const MessageSchema = Type.Object({ message: Type.String() });

/**
 * OpenAPI security requirement of every authenticated route: a bearer access token or API key,
 * the session cookie, or the OAuth2 password flow (any one of them).
 */
export const AUTHENTICATED: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { cookieAuth: [] }, { oauth2: [] }];

/** Schemas registered once with `app.addSchema` so `$ref`s resolve and OpenAPI lists them. */
export const sharedSchemas = [ProblemSchema, UserSchema];
