import { describe, expect, it } from 'vitest';
import { FrameScheduler } from '../src/schedule';

describe('FrameScheduler', () => {
  it('coalesces every request before a frame into one draw', () => {
    const frames: (() => void)[] = [];
    let draws = 0;
    const scheduler = new FrameScheduler(
      () => (draws += 1),
      (callback) => frames.push(callback),
    );
    scheduler.schedule();
    scheduler.schedule();
    scheduler.schedule();
    expect(frames).toHaveLength(1);
    expect(draws).toBe(0);
    frames.shift()?.();
    expect(draws).toBe(1);
    scheduler.schedule();
    expect(frames).toHaveLength(1);
  });

  it('draws nothing once stopped', () => {
    const frames: (() => void)[] = [];
    let draws = 0;
    const scheduler = new FrameScheduler(
      () => (draws += 1),
      (callback) => frames.push(callback),
    );
    scheduler.schedule();
    scheduler.stop();
    frames.shift()?.();
    scheduler.schedule();
    expect(draws).toBe(0);
    expect(frames).toHaveLength(0);
  });
});
