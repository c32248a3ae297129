/**
 * The `score-predictions` evaluator's arithmetic, free of I/O: parse two `id,label` CSV files
 * (a header line, then one row per item) and score predictions against references.
 *
 * - accuracy = correct / n, where n is the number of reference rows and a reference id missing
 *   from the predictions counts as wrong;
 * - macro F1 = the unweighted mean over the reference labels of F1 = 2·TP / (2·TP + FP + FN)
 *   (scikit-learn's `f1_score(average='macro', labels=<reference labels>)`; a label with
 *   2·TP + FP + FN = 0 cannot occur since every reference label has at least one row);
 * - `missing`: reference ids absent from the predictions; `extra`: predicted ids absent from the
 *   references (ignored by both scores).
 */

/** A CSV that cannot be scored; `line` is 1-based. */
export class CsvFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${file}, line ${line}: ${reason}`);
    this.name = 'CsvFormatError';
  }
}

/**
 * Splits one CSV line into fields (RFC 4180 quoting: `"a,b"`, `""` for a quote).
 * @throws Error with the reason for an unterminated quote.
 */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
    i++;
  }
  if (quoted) throw new Error('a quoted field is not closed');
  fields.push(field);
  return fields;
}

/**
 * Parses an `id,label` CSV with a header line naming `id` and `label` (in that order, any case).
 * Empty lines (a trailing newline) are skipped; a UTF-8 BOM is ignored.
 * @returns id → label, in file order.
 * @throws CsvFormatError naming the file and line: a missing or wrong header, a row without exactly
 *   two fields, an empty id, a repeated id.
 */
export function parseLabelCsv(text: string, file: string): Map<string, string> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows = new Map<string, string>();
  let header = false;
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let fields: string[];
    try {
      fields = splitCsvLine(raw);
    } catch (error) {
      throw new CsvFormatError(file, line, (error as Error).message);
    }
    if (!header) {
      if (fields.length !== 2 || fields[0]!.trim().toLowerCase() !== 'id' || fields[1]!.trim().toLowerCase() !== 'label') {
        throw new CsvFormatError(file, line, `the header must be "id,label", not "${raw.slice(0, 80)}"`);
      }
      header = true;
      return;
    }
    if (fields.length !== 2) throw new CsvFormatError(file, line, `expected 2 fields (id,label), found ${fields.length}`);
    const id = fields[0]!.trim();
    const label = fields[1]!.trim();
    if (id === '') throw new CsvFormatError(file, line, 'the id is empty');
    if (rows.has(id)) throw new CsvFormatError(file, line, `the id "${id}" appears twice`);
    rows.set(id, label);
  });
  if (!header) throw new CsvFormatError(file, 1, 'the file is empty (expected the header "id,label")');
  return rows;
}

/** What {@link scorePredictions} reports (the evaluator's job result). */
export interface PredictionScores {
  scores: { accuracy: number; macro_f1: number };
  details: { n: number; missing: number; extra: number };
}

/**
 * Scores predictions against references (see the module comment for the formulas).
 * @throws Error when there are no references (n = 0: both scores would be undefined).
 */
export function scorePredictions(predictions: ReadonlyMap<string, string>, references: ReadonlyMap<string, string>): PredictionScores {
  const n = references.size;
  if (n === 0) throw new Error('the reference file has no rows');
  const labels = new Set(references.values());
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const fn = new Map<string, number>();
  const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  let correct = 0;
  let missing = 0;
  for (const [id, truth] of references) {
    const predicted = predictions.get(id);
    if (predicted === undefined) {
      missing++;
      add(fn, truth);
      continue;
    }
    if (predicted === truth) {
      correct++;
      add(tp, truth);
    } else {
      add(fn, truth);
      add(fp, predicted);
    }
  }
  let extra = 0;
  for (const id of predictions.keys()) if (!references.has(id)) extra++;
  let f1Sum = 0;
  for (const label of labels) {
    const t = tp.get(label) ?? 0;
    const denominator = 2 * t + (fp.get(label) ?? 0) + (fn.get(label) ?? 0);
    f1Sum += denominator === 0 ? 0 : (2 * t) / denominator;
  }
  return { scores: { accuracy: correct / n, macro_f1: f1Sum / labels.size }, details: { n, missing, extra } };
}
