/**
 * A progress line on stderr with rate and ETA. On a terminal it redraws in place (at most
 * every 100 ms); otherwise it prints a plain line at every tenth, so logs stay readable.
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #label: string;
  readonly #started = Date.now();
  #lastDraw = 0;
  #lastTenth = -1;

  constructor(stream: NodeJS.WriteStream, label: string) {
    this.#stream = stream;
    this.#label = label;
  }

  update(done: number, total: number): void {
    const now = Date.now();
    const elapsedSeconds = Math.max(0.001, (now - this.#started) / 1000);
    const rate = done / elapsedSeconds;
    const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
    const line = `${this.#label} ${done}/${total} ${rate.toFixed(1)}/s ETA ${formatSeconds(eta)}`;
    if (this.#stream.isTTY) {
      if (done !== total && now - this.#lastDraw < 100) return;
      this.#lastDraw = now;
      const width = 24;
      const filled = total === 0 ? width : Math.round((done / total) * width);
      this.#stream.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${line}\x1b[K`);
      if (done === total) this.#stream.write("\n");
      return;
    }
    const tenth = total === 0 ? 10 : Math.floor((done / total) * 10);
    if (tenth !== this.#lastTenth) {
      this.#lastTenth = tenth;
      this.#stream.write(`${line}\n`);
    }
  }
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}
