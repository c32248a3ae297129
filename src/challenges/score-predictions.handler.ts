/**
 * The challenges module's built-in evaluator (`gatehouse worker --builtin score-predictions`, or
 * a worker thread of the server): the handler of `score-predictions` evaluation jobs. It runs in
 * a worker thread or process, never in the server's own thread, and speaks the same HTTP protocol
 * as a remote evaluator: it downloads the submission's CSV and the hidden reference CSV with its
 * worker key (the module's file-access rule lets the worker holding the job read the reference),
 * scores them and returns `{scores: {accuracy, macro_f1}, details: {n, missing, extra}}`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type JobHandler, PermanentError } from '../worker/index.js';
import { CsvFormatError, parseLabelCsv, scorePredictions } from './score-predictions.js';

/** The payload of an evaluation job (docs/challenges.md). */
interface EvaluationPayload {
  submission_id?: unknown;
  challenge?: unknown;
  files?: unknown;
  references?: unknown;
}

function ids(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * `score-predictions`: the submission's first file against the challenge's first hidden resource.
 * @throws PermanentError (no retry) for a submission without a file, a challenge without a hidden
 *   reference, or a malformed CSV (the message names the file and line).
 */
const scorePredictionsHandler: JobHandler = async (job, ctx) => {
  const payload = (job.payload ?? {}) as EvaluationPayload;
  const [submissionFile] = ids(payload.files);
  const [referenceFile] = ids(payload.references);
  if (!submissionFile) throw new PermanentError('The submission has no file to score.');
  if (!referenceFile) throw new PermanentError('The challenge has no hidden reference resource to score against.');
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-score-'));
  try {
    await ctx.progress(0.1, 'downloading');
    const submissionPath = path.join(dir, 'submission.csv');
    const referencePath = path.join(dir, 'reference.csv');
    await ctx.download(submissionFile, submissionPath);
    await ctx.download(referenceFile, referencePath);
    await ctx.progress(0.5, 'scoring');
    try {
      const predictions = parseLabelCsv(await readFile(submissionPath, 'utf8'), 'submission');
      const references = parseLabelCsv(await readFile(referencePath, 'utf8'), 'reference');
      const result = scorePredictions(predictions, references);
      await ctx.progress(1, `accuracy ${result.scores.accuracy.toFixed(4)}`);
      return result;
    } catch (error) {
      if (error instanceof CsvFormatError) throw new PermanentError(`Malformed CSV: ${error.message}`, { data: { file: error.file, line: error.line } });
      throw new PermanentError((error as Error).message);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

export default { 'score-predictions': scorePredictionsHandler };
