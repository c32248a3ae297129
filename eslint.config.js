// ESLint flat config: typescript-eslint's recommended rules over the whole project.
import reactHooks from 'eslint-plugin-react-hooks';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Feature boundaries: a feature (a folder under src/, or a module under examples/) never imports
 * another feature's repository (`*.repo.js`); it calls that feature's service. The rule matches
 * imports that climb out of the importing folder (`../<feature>/….repo.js`,
 * `../../<feature>/….repo.js`); a feature's own repositories are imported as `./x.repo.js`.
 * Tests and benchmarks may read any table and are not checked.
 *
 * The exceptions, each argued where the file is declared:
 * - SHARED_REPOSITORIES: core tables other features read or write through the repository itself
 *   (none today: the `user` row goes through the accounts module's `UserDirectory` service and the
 *   event log through `event-log/event-log.service.js`, both taking the caller's transaction).
 * - FEATURE_EXCEPTIONS: one feature allowed one other repository (none today).
 */
/** @type {string[]} */
const SHARED_REPOSITORIES = [];
/** The injected clock rule's selectors (see its config block below). */
const CLOCK_SELECTORS = [
  {
    // Calls and references alike (`Date.now()`, a default argument `= Date.now`).
    selector: "MemberExpression[object.name='Date'][property.name='now']",
    message: 'Use the injected clock (clock.now()) for the current time, or performance.now() to measure a duration.',
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: 'Use the injected clock (clock.now()) for the current time.',
  },
];

/** Files whose code runs per request, per job or per solver iteration (see the rule's config block below). */
const HOT_PATHS = [
  'src/app.ts',
  'src/http/**/*.ts',
  'src/auth/auth.service.ts',
  'src/sessions/**/*.ts',
  'src/limits/request-limits.ts',
  'src/limits/window-counter.ts',
  'src/jobs/jobs.repo.ts',
  'src/jobs/worker-protocol.service.ts',
  'src/jobs/turn-batch.ts',
  'src/event-log/event-log.repo.ts',
  'src/challenges/leaderboard.ts',
  'src/campaigns/channel/**/*.ts',
  'src/worker/client.ts',
  'src/worker/worker.ts',
];

const SPREAD_THEN_PROPERTY = {
  selector: 'ObjectExpression > SpreadElement ~ Property',
  message: 'Adding properties after a spread is slow on Node 20 (about 1 µs per property): use Object.assign({}, source, { extra }) or list the properties.',
};

/** @type {Array<{ files: string[], allow: string[] }>} */
const FEATURE_EXCEPTIONS = [];

const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The `no-restricted-imports` entry forbidding other features' repositories, except `allowed`. */
function crossFeatureRepoRule(allowed) {
  const except = allowed.map((p) => `(?!(src/)?${escapeRegex(p)}$)`).join('');
  return [
    'error',
    {
      patterns: [
        {
          regex: `^(\\.\\./)+${except}(src/)?[^./][^/]*/.+\\.repo\\.js$`,
          message:
            "A feature never imports another feature's repository: call its service (add the narrow method you need). Shared core repositories are listed in eslint.config.js.",
        },
      ],
    },
  ];
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': ['error', { ignoreRestArgs: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'examples/**/*.ts'],
    rules: { 'no-restricted-imports': crossFeatureRepoRule(SHARED_REPOSITORIES) },
  },
  ...FEATURE_EXCEPTIONS.map(({ files, allow }) => ({
    files,
    rules: { 'no-restricted-imports': crossFeatureRepoRule([...SHARED_REPOSITORIES, ...allow]) },
  })),
  {
    // Current time comes from the injected Clock (tests drive a ManualClock), never from Date.now()
    // or new Date(). Elapsed-time measurements (cache ages, throttles, deadlines of real timers)
    // use performance.now(), which is monotonic. The files below are outside the services and
    // keep real time on purpose.
    files: ['src/**/*.ts', 'examples/**/*.ts'],
    ignores: [
      'src/shared/clock.ts', // the system clock itself
      'src/worker/**', // the worker SDK runs in the worker's own process against real leases
      'src/cli/**', // operator-facing output and polling loops in the CLI process
      'src/app.ts', // the shutdown grace period (a real duration)
      'src/files/storage.ts', // compares against filesystem mtimes, which are real time
      'src/outbox/transport.ts', // names .eml files by when they were written
    ],
    rules: { 'no-restricted-syntax': ['error', ...CLOCK_SELECTORS] },
  },
  {
    // The paths run per request or per job: an object literal that adds properties after a spread
    // (`{ ...row, extra }`) costs about a microsecond per added property on Node 20 (V8 11; it
    // was 5 % of a cookie request's CPU in the profile). Object.assign({}, row, { extra }) or an
    // explicit literal cost tens of nanoseconds. (One rule object per file set: a later
    // `no-restricted-syntax` replaces an earlier one, so the clock selectors are repeated here.)
    files: HOT_PATHS,
    ignores: ['src/worker/**', 'src/app.ts'],
    rules: { 'no-restricted-syntax': ['error', ...CLOCK_SELECTORS, SPREAD_THEN_PROPERTY] },
  },
  {
    // Exempt from the clock rule (above), not from this one.
    files: ['src/worker/client.ts', 'src/worker/worker.ts', 'src/app.ts'],
    rules: { 'no-restricted-syntax': ['error', SPREAD_THEN_PROPERTY] },
  },
  {
    // Migrations take Kysely<any> by design: they are frozen in time and never import app types.
    files: ['src/db/migrations/**/*.ts', 'src/db/migrate.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The web app (web/): browser code, React hooks rules.
    files: ['web/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
    },
  },
  {
    files: ['src/web/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', URLSearchParams: 'readonly' },
    },
  },
);
