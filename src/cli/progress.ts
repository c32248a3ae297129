/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */

/** A progress bar; every method is a no-op when stderr is not a terminal. */
export interface ProgressBar {
  /** Sets how many of `total` items are done (redraws at most every 100 ms, and at the end). */
  update(done: number): void;
  /** Prints `line` on its own line above the bar (e.g. an error for one row). */
  log(line: string): void;
  /** Removes the bar. */
  done(): void;
}

const WIDTH = 30;

/**
 * Creates a bar labelled `label` for `total` items (`NaN` when unknown: only the count is shown). Drawn on stderr with carriage returns, so
 * stdout stays clean for data; without a terminal (scripts, CI logs) nothing is drawn and
 * {@link ProgressBar.log} simply prints to stderr.
 */
export function createProgressBar(label: string, total: number): ProgressBar {
  const tty = Boolean(process.stderr.isTTY);
  let lastDraw = 0;
  let current = 0;
  let visible = false;
  const draw = () => {
    lastDraw = Date.now();
    visible = true;
    if (!Number.isFinite(total)) return void process.stderr.write(`\r${label} ${current}`);
    const ratio = total === 0 ? 1 : Math.min(1, current / total);
    const filled = Math.round(ratio * WIDTH);
    process.stderr.write(
      `\r${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${current}/${total}`,
    );
  };
  const clear = () => {
    if (visible) process.stderr.write('\r\x1b[2K');
    visible = false;
  };
  return {
    update(done) {
      current = done;
      if (tty && (done >= total || Date.now() - lastDraw >= 100)) draw();
    },
    log(line) {
      if (tty) clear();
      process.stderr.write(`${line}\n`);
      if (tty && current > 0) draw();
    },
    done() {
      if (tty) clear();
    },
  };
}
