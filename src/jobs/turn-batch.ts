/**
 * Coalesces calls that arrive in the same turn of the event loop into batches, so that one
 * database statement (one round trip, one commit) serves many requests: the "local queue" and
 * batched completion of graphile-worker, and the group commit of `db/transaction.ts`, applied to
 * the job protocol's hot statements on PostgreSQL.
 */

/** How a {@link TurnBatcher} splits and runs its items. */
export interface TurnBatchOptions<I, O> {
  /**
   * Items with the same group key run in one batch; other keys in their own (e.g. the queue a
   * claim reads).
   */
  groupOf(item: I): string;
  /**
   * Items with the same exclusive key never share a batch (e.g. one worker's two claims, whose
   * held-job count must see each other): a later one runs in the next round of its group.
   */
  exclusiveOf(item: I): string;
  /** Runs one batch. @returns one outcome per item, in the order given. */
  run(items: I[]): Promise<O[]>;
  /** Most items in one batch (default 100). */
  maxBatch?: number;
}

interface Pending<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * Batches of the items submitted in one event-loop turn. Flushes on `setImmediate`, so every
 * request parsed in the same poll phase joins the batch and a lone request waits one turn at
 * most. Batches of different groups, and successive rounds of one group, run concurrently: their
 * exclusive keys differ or their items were submitted separately, so their statements are
 * independent. A batch that throws rejects each of its items with that error.
 */
export class TurnBatcher<I, O> {
  private pending: Array<Pending<I, O>> = [];
  /** Batches run so far and the items they carried (for tests and diagnostics). */
  readonly stats = { batches: 0, items: 0, largest: 0 };
  private scheduled = false;
  private readonly maxBatch: number;

  constructor(private readonly options: TurnBatchOptions<I, O>) {
    this.maxBatch = options.maxBatch ?? 100;
  }

  /** Queues `item` for this turn's batch of its group. @returns its outcome. @throws what its batch threw. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.pending;
    this.pending = [];
    const batches: Array<Array<Pending<I, O>>> = [];
    // Per group: rounds whose items have distinct exclusive keys, each cut at maxBatch.
    const rounds = new Map<string, Array<{ batch: Array<Pending<I, O>>; keys: Set<string> }>>();
    for (const pending of items) {
      const group = this.options.groupOf(pending.item);
      const key = this.options.exclusiveOf(pending.item);
      let list = rounds.get(group);
      if (!list) rounds.set(group, (list = []));
      let round = list.find((r) => !r.keys.has(key) && r.batch.length < this.maxBatch);
      if (!round) {
        round = { batch: [], keys: new Set() };
        list.push(round);
        batches.push(round.batch);
      }
      round.keys.add(key);
      round.batch.push(pending);
    }
    for (const batch of batches) void this.runBatch(batch);
  }

  private async runBatch(batch: Array<Pending<I, O>>): Promise<void> {
    this.stats.batches += 1;
    this.stats.items += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    let outcomes: O[];
    try {
      outcomes = await this.options.run(batch.map((p) => p.item));
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => p.resolve(outcomes[i] as O));
  }
}
