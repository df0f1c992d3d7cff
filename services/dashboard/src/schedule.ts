/**
 * Conflation of rendering: however many messages arrive between two frames, the screen is drawn
 * once, from the newest state. Messages are folded into the state as they come (cheap); drawing
 * waits for the next animation frame, which a hidden tab does not get, so a dashboard left open in
 * a background tab keeps its state current without drawing anything until it is looked at.
 */

export type RequestFrame = (callback: () => void) => unknown;

/** `requestAnimationFrame` where there is one, else a 16 ms timer. */
export function defaultRequestFrame(): RequestFrame {
  if (typeof requestAnimationFrame === 'function') return (callback) => requestAnimationFrame(() => callback());
  return (callback) => setTimeout(callback, 16);
}

export class FrameScheduler {
  private pending = false;
  private stopped = false;
  private readonly requestFrame: RequestFrame;
  private readonly draw: () => void;

  constructor(draw: () => void, requestFrame: RequestFrame = defaultRequestFrame()) {
    this.draw = draw;
    this.requestFrame = requestFrame;
  }

  /** Ask for a draw at the next frame; calls before that frame share it. */
  schedule(): void {
    if (this.pending || this.stopped) return;
    this.pending = true;
    this.requestFrame(() => {
      this.pending = false;
      if (!this.stopped) this.draw();
    });
  }

  stop(): void {
    this.stopped = true;
  }
}
