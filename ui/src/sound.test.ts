import { afterEach, describe, expect, it } from 'vitest';
import { playTone, resetAudioForTests } from './sound';

/** A recording stand-in for AudioContext: which oscillators were started, at what pitch and wave. */
class FakeAudioContext {
  static played: { frequency: number; wave: string; start: number; stop: number }[] = [];
  state = 'running';
  currentTime = 10;
  destination = {};
  createGain() {
    return { gain: { setValueAtTime: () => undefined, linearRampToValueAtTime: () => undefined }, connect: () => undefined };
  }
  createOscillator() {
    const record = { frequency: 0, wave: '', start: 0, stop: 0 };
    return {
      set type(wave: string) { record.wave = wave; },
      frequency: { set value(hz: number) { record.frequency = hz; } },
      connect: () => undefined,
      start: (at: number) => { record.start = at; FakeAudioContext.played.push(record); },
      stop: (at: number) => { record.stop = at; },
    };
  }
  resume() { return Promise.resolve(); }
}

const w = window as unknown as { AudioContext?: unknown };

afterEach(() => {
  delete w.AudioContext;
  FakeAudioContext.played = [];
  resetAudioForTests();
});

describe('scan sounds', () => {
  it('are silently skipped where there is no audio', () => {
    expect(w.AudioContext).toBeUndefined();
    expect(playTone('success')).toBe(false);
    expect(playTone('failure')).toBe(false);
  });

  it('differ: one high beep, two mid beeps, one long low buzz', () => {
    w.AudioContext = FakeAudioContext;
    expect(playTone('success')).toBe(true);
    expect(FakeAudioContext.played.map((p) => p.frequency)).toEqual([1760]);
    FakeAudioContext.played = [];
    playTone('warning');
    expect(FakeAudioContext.played.map((p) => p.frequency)).toEqual([880, 880]);
    expect(FakeAudioContext.played[1].start).toBeGreaterThan(FakeAudioContext.played[0].stop);
    FakeAudioContext.played = [];
    playTone('failure');
    const [buzz] = FakeAudioContext.played;
    expect([buzz.frequency, buzz.wave]).toEqual([150, 'square']);
    expect(buzz.stop - buzz.start).toBeGreaterThan(0.3);
  });

  it('never throw, even when the audio system fails', () => {
    w.AudioContext = class { constructor() { throw new Error('no audio device'); } };
    expect(playTone('warning')).toBe(false);
  });
});
