/**
 * Writes stream frames in upstream order while some of them wait: a tool call reserves its
 * place when it starts and is filled in once decided, and frames after it queue behind it.
 * Frames with nothing waiting ahead of them are written at once, so text is never buffered.
 */
export class OrderedStreamWriter<Frame = string> {
  readonly #write: (frame: Frame) => void;
  readonly #queue: { frames: Frame[] | null }[] = [];
  #idle: (() => void)[] = [];

  constructor(write: (frame: Frame) => void) {
    this.#write = write;
  }

  emit(frame: Frame): void {
    if (this.#queue.length === 0) this.#write(frame);
    else this.#queue.push({ frames: [frame] });
  }

  /** Reserves a place; the returned function fills it (once) and writes whatever it unblocks. */
  reserve(): (frames: Frame[]) => void {
    const slot: { frames: Frame[] | null } = { frames: null };
    this.#queue.push(slot);
    let filled = false;
    return (frames) => {
      if (filled) return;
      filled = true;
      slot.frames = frames;
      this.#drain();
    };
  }

  get waiting(): boolean {
    return this.#queue.length > 0;
  }

  /** Resolves once every reserved place has been filled and written. */
  idle(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #drain(): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.frames === null) return;
      this.#queue.shift();
      for (const frame of head.frames) this.#write(frame);
    }
    const waiters = this.#idle;
    this.#idle = [];
    for (const resolve of waiters) resolve();
  }
}
