/**
 * The challenges module (docs/challenges.md): challenges with resources, participants,
 * submissions scored by remote evaluators through the job system, and leaderboards. One folder,
 * registered by one line in `src/modules/index.ts`.
 */
import { z } from 'zod';
import { defineModule } from '../modules/contract.js';
import type { NotifyUser } from '../notify/events.js';
import { emailTemplates } from '../notify/templates.js';
import { registerChallengeCommands } from './challenges.cli.js';
import { challengesMigrations } from './challenges.migrations.js';
import './challenges.schema.js';
import { ChallengeService, type ChallengesSettings, SUBMISSION_PARENT } from './challenges.service.js';
import { platformCalls } from './platform.js';

declare module '../shared/errors.js' {
  interface ModuleErrorCodes {
    submission_limit: true;
    challenge_closed: true;
    not_participant: true;
  }
}

declare module '../notify/events.js' {
  interface ModuleNotifyEvents {
    /** A submission was scored (its participant is told, with the scores and the rank). */
    'submission.scored': { user: NotifyUser; challenge: string; challenge_title: string; submission_id: string; scores: string; rank: number | null; url: string };
    /** A submission failed (its participant is told each failing evaluator's message). */
    'submission.failed': { user: NotifyUser; challenge: string; challenge_title: string; submission_id: string; errors: string; url: string };
    /** Another participant took first place (admins are told). */
    'challenge.new_leader': {
      challenge: string;
      challenge_title: string;
      leader_name: string;
      score_name: string;
      score: number;
      previous_score: number | null;
      url: string;
    };
  }
}

/** The built-in evaluator's job kind. */
export const SCORE_PREDICTIONS_KIND = 'score-predictions';

/** The challenges module. */
export const challengesModule = defineModule<ChallengeService, ChallengesSettings>({
  name: 'challenges',
  description: 'Challenges: resources, participants, submissions evaluated by workers, leaderboards (docs/challenges.md).',
  migrations: challengesMigrations,
  permissions: {
    'challenges:participate': { description: 'Join challenges, submit, read your submissions', roles: ['user'] },
    'challenges:manage': { description: 'Create, change and delete challenges, their resources and anyone\'s submissions' },
  },
  errors: {
    submission_limit: { status: 429, title: 'Submission limit reached' },
    challenge_closed: { status: 409, title: 'The challenge does not accept submissions now' },
    not_participant: { status: 403, title: 'Only participants submit to a challenge' },
  },
  notifications: {
    events: {
      'submission.scored': [{ audience: 'user', template: 'submission_scored' }],
      'submission.failed': [{ audience: 'user', template: 'submission_failed' }],
      'challenge.new_leader': [{ audience: 'admins', template: 'admin_challenge_new_leader' }],
    },
    templates: {
      ...emailTemplates('submission_scored', {
        subject: 'Your submission to <%= it.challenge_title %> was scored',
        title: "'Your submission was scored'",
        paragraphs: [
          'Your submission <%= it.submission_id %> to <%= it.challenge_title %> was scored: <%= it.scores %>.',
          '<% if (it.rank) { %>It ranks you number <%= it.rank %> on the leaderboard.<% } else { %>It does not change your place on the leaderboard.<% } %>',
        ],
        action: { label: 'See the submission', url: 'it.url' },
        footer: 'You receive this because you submitted to this challenge.',
      }),
      ...emailTemplates('submission_failed', {
        subject: 'Your submission to <%= it.challenge_title %> could not be scored',
        title: "'Your submission could not be scored'",
        paragraphs: ['Your submission <%= it.submission_id %> to <%= it.challenge_title %> failed: <%= it.errors %>'],
        action: { label: 'See the submission', url: 'it.url' },
        footer: 'You receive this because you submitted to this challenge.',
      }),
      ...emailTemplates('admin_challenge_new_leader', {
        subject: 'New leader in <%= it.challenge_title %>',
        title: "'A challenge has a new leader'",
        paragraphs: ['<%= it.leader_name %> leads <%= it.challenge_title %> (<%= it.challenge %>) with <%= it.score_name %> = <%= it.score %><% if (it.previous_score !== null) { %> (was <%= it.previous_score %>)<% } %>.'],
        action: { label: 'See the leaderboard', url: 'it.url' },
        footer: 'You receive this as an administrator.',
      }),
      'admin_challenge_new_leader.mattermost':
        ':trophy: **<%= it.leader_name %>** leads **<%= it.challenge_title %>** with <%= it.score_name %> = <%= it.score %><% if (it.previous_score !== null) { %> (was <%= it.previous_score %>)<% } %> ([leaderboard](<%~ it.url %>))',
      'admin_challenge_new_leader.webhook': '<%= it.leader_name %> leads <%= it.challenge %> with <%= it.score_name %> = <%= it.score %>',
    },
  },
  config: {
    schema: z.object({
      CHALLENGES_EVALUATION_QUEUE: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be a queue name').default('evaluations'),
      CHALLENGES_MAX_SUBMISSION_FILES: z.coerce.number().int().min(1).max(100).default(10),
    }),
    settings: (v) => ({ evaluationQueue: v.CHALLENGES_EVALUATION_QUEUE as string, maxSubmissionFiles: v.CHALLENGES_MAX_SUBMISSION_FILES as number }),
  },
  create: ({ gatehouse, settings }) => {
    const { enqueueIn, publish, forget } = platformCalls(gatehouse);
    return new ChallengeService({
      db: gatehouse.database.db,
      write: gatehouse.database.write,
      clock: gatehouse.clock,
      jobs: gatehouse.jobs,
      queues: gatehouse.queues,
      profiles: gatehouse.users,
      notify: gatehouse.notify,
      enqueueIn,
      publish,
      forget,
      hub: gatehouse.hub,
      logger: gatehouse.logger,
      appUrl: gatehouse.config.server.appUrl,
      settings,
    });
  },
  async start(challenges) {
    await challenges.ensureEvaluationQueue();
    await challenges.startProgressRelay();
  },
  stop: (challenges) => challenges.stopProgressRelay(),
  // Loaded on first use, so CLI commands do not load the HTTP stack (as the platform's features do).
  routes: async (api, challenges, gatehouse) => (await import('./challenges.routes.js')).challengesRoutes(api, challenges, gatehouse.files),
  jobHooks: (challenges) => [{ name: 'challenges.record-evaluation', parentTypes: [SUBMISSION_PARENT], handle: (event) => challenges.recordOutcome(event) }],
  fileAccess: (challenges) => [{ name: 'challenges.resources', mayRead: (file, principal) => challenges.mayReadResource(file, principal) }],
  topics: (challenges) => [
    {
      prefix: 'submission',
      description: "A submission's state and each evaluation's progress and outcome (its owner, managers, the worker evaluating it).",
      authorize: (principal, id) => challenges.authorizeSubmissionTopic(principal, id),
    },
    {
      prefix: 'challenge',
      description: "A challenge's leaderboard changes (whoever may see the challenge).",
      authorize: (principal, slug) => challenges.authorizeChallengeTopic(principal, slug),
    },
  ],
  builtinWorkers: (settings) => [
    {
      name: 'score-predictions',
      description: 'Scores an id,label CSV submission against the hidden reference CSV: accuracy and macro F1.',
      handlers: new URL('./score-predictions.handler.js', import.meta.url),
      kinds: [SCORE_PREDICTIONS_KIND],
      queues: [settings.evaluationQueue],
    },
  ],
  commands: (program, open) => registerChallengeCommands(program, open),
});
