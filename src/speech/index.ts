/**
 * The speech-practice module (docs/speech.md): users answer questions by speaking; a built-in
 * worker analyses each recording (pauses, pace, loudness, pitch); the report reaches the session
 * row and its live topic `speech-session:{id}` in the transaction that records the job's outcome;
 * `GET /speech/progress` tracks improvement month by month.
 */
import { z } from 'zod';
import { defineModule } from '../modules/contract.js';
import { speechMigrations } from './speech.migrations.js';
import { speechPlatform } from './platform.js';
import './speech.schema.js';
import { MANAGE, SPEECH_KIND, SPEECH_PARENT, SpeechService, type SpeechSettings, USE } from './speech.service.js';

declare module '../shared/errors.js' {
  interface ModuleErrorCodes {
    speech_not_audio: true;
    speech_decoder_missing: true;
    speech_too_long: true;
    speech_empty_audio: true;
  }
}

/** The speech-practice module. */
export const speechModule = defineModule<SpeechService, SpeechSettings>({
  name: 'speech',
  description: 'Speech practice: recorded answers analysed by a built-in worker, live reports, monthly progress (docs/speech.md).',
  migrations: speechMigrations,
  permissions: {
    [USE]: { description: 'Practise speaking: list questions, record sessions, read your own reports and progress', roles: ['user'] },
    [MANAGE]: { description: "Change speech questions and read or delete everyone's sessions" },
  },
  errors: {
    speech_not_audio: { status: 415, title: 'The upload is not audio' },
    speech_decoder_missing: { status: 415, title: 'Decoding this audio format needs ffmpeg' },
    speech_too_long: { status: 422, title: 'The recording is too long' },
    speech_empty_audio: { status: 422, title: 'The recording holds no audio' },
  },
  config: {
    schema: z.object({
      SPEECH_QUEUE: z.string().regex(/^[a-z0-9._-]{1,64}$/, 'must be a queue name').default('speech'),
      SPEECH_MAX_SECONDS: z.coerce.number().int().min(1).max(7200).default(600),
      SPEECH_MIN_PAUSE_MS: z.coerce.number().int().min(50).max(5000).default(250),
      SPEECH_FFMPEG: z.string().min(1).default('ffmpeg'),
      // Read by the analysis handler in its worker thread (process.env); validated here with the rest.
      SPEECH_TRANSCRIBE: z.enum(['auto', 'off']).default('auto'),
      SPEECH_POCKETSPHINX: z.string().min(1).default('pocketsphinx_continuous'),
    }),
    settings: (v) => ({
      queue: v.SPEECH_QUEUE as string,
      maxSeconds: v.SPEECH_MAX_SECONDS as number,
      minPauseMs: v.SPEECH_MIN_PAUSE_MS as number,
      ffmpegPath: v.SPEECH_FFMPEG as string,
    }),
  },
  create: ({ gatehouse, settings }) =>
    new SpeechService({
      db: gatehouse.database.db,
      write: gatehouse.database.write,
      clock: gatehouse.clock,
      files: gatehouse.files,
      jobs: gatehouse.jobs,
      queues: gatehouse.queues,
      platform: speechPlatform(gatehouse),
      settings,
      hub: gatehouse.hub,
      logger: gatehouse.logger.child({ component: 'speech' }),
    }),
  async start(speech) {
    await speech.ensureQueue();
    speech.startProgressRelay();
  },
  stop: (speech) => speech.stopProgressRelay(),
  // Loaded on first use: CLI commands never pay for the HTTP stack.
  routes: async (api, speech, gatehouse) => (await import('./speech.routes.js')).speechRoutes(api, speech, gatehouse.config.files.maxBytes),
  jobHooks: (speech) => [{ name: 'speech.report', kinds: [SPEECH_KIND], parentTypes: [SPEECH_PARENT], handle: (event) => speech.recordOutcome(event) }],
  topics: (speech) => [
    {
      prefix: SPEECH_PARENT,
      description: "A speech session's events: speech-session.created, speech-session.progress while it is analysed, then speech-session.done (the full report) or speech-session.failed. The owner and speech:manage may follow it.",
      authorize: (principal, id) => speech.authorizeTopic(principal, id),
    },
  ],
  fileAccess: (speech) => [speech.fileAccessRule()],
  builtinWorkers: (settings) => [
    {
      name: 'speech-analysis',
      description: 'Analyses speech-practice recordings: pauses, pace, loudness, pitch (and a transcript with pocketsphinx).',
      handlers: new URL('./speech.handler.js', import.meta.url),
      kinds: [SPEECH_KIND],
      queues: [settings.queue],
    },
  ],
});
