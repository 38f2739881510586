// The sound of a scan, so the clerk knows without looking: one high beep
// when it was read and applied, two mid beeps when it was read but needs a
// look (a warning, a choice to make, a short-dated lot), a low buzz when it
// could not be used. Made with Web Audio oscillators (no sound files);
// silently nothing where there is no audio (jsdom, a locked-down webview).

export type Tone = 'success' | 'warning' | 'failure';

export interface Beep { frequencyHz: number; startS: number; durationS: number; wave: OscillatorType }

export const TONES: Record<Tone, Beep[]> = {
  success: [{ frequencyHz: 1760, startS: 0, durationS: 0.09, wave: 'sine' }],
  warning: [
    { frequencyHz: 880, startS: 0, durationS: 0.09, wave: 'sine' },
    { frequencyHz: 880, startS: 0.15, durationS: 0.09, wave: 'sine' },
  ],
  failure: [{ frequencyHz: 150, startS: 0, durationS: 0.35, wave: 'square' }],
};

/** Loud enough over a storeroom, soft enough not to startle (square waves sound louder). */
const VOLUME = { sine: 0.25, square: 0.12 } as Record<OscillatorType, number>;

type AudioContextClass = new () => AudioContext;
let context: AudioContext | null = null;

function audioContextClass(): AudioContextClass | undefined {
  if (typeof window === 'undefined') return undefined;
  const w = window as typeof window & { webkitAudioContext?: AudioContextClass };
  return w.AudioContext ?? w.webkitAudioContext;
}

/** Plays `tone`; false when there is no audio here. Never throws. */
export function playTone(tone: Tone): boolean {
  try {
    const Context = audioContextClass();
    if (!Context) return false;
    context ??= new Context();
    const audio = context;
    if (audio.state === 'suspended') void audio.resume().catch(() => undefined);
    const now = audio.currentTime;
    for (const beep of TONES[tone]) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = beep.wave;
      oscillator.frequency.value = beep.frequencyHz;
      const start = now + beep.startS;
      const end = start + beep.durationS;
      // Short ramps at both ends: a cut-off sine clicks.
      gain.gain.setValueAtTime(0, start);
      gain.gain.linearRampToValueAtTime(VOLUME[beep.wave] ?? 0.2, start + 0.01);
      gain.gain.setValueAtTime(VOLUME[beep.wave] ?? 0.2, end - 0.015);
      gain.gain.linearRampToValueAtTime(0, end);
      oscillator.connect(gain);
      gain.connect(audio.destination);
      oscillator.start(start);
      oscillator.stop(end);
    }
    return true;
  } catch {
    return false;
  }
}

/** For tests: forget the audio context so a new (fake) one is made. */
export function resetAudioForTests() {
  context = null;
}
