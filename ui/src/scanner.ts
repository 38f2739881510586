// Keyboard-wedge scanners "type" a barcode: a burst of keys far faster than
// any person types, ending in Enter or Tab (or, with the AIM symbology
// identifier turned on, starting with `]`). They cannot type the GS
// separator, so they send Ctrl+] instead. This module recognises such a
// burst wherever the focus is, so a scan never needs a focused scan field:
//
// - `ScanDetector` is pure: it is fed key events with their times and says,
//   key by key, whether the key may belong to a scan, ends one, or is just a key.
// - `installScanner` listens on the window (capture phase, before any field
//   or form sees the key). When a burst turns out to be a scan it swallows the
//   terminator (no form submits, the focus stays), puts back whatever the
//   focused field held before the burst, and hands the text over.
//
// Typing by hand is never a scan: people do not keep keys under 35 ms apart
// for six characters and then hit Enter just as fast; key repeat, IME
// composition, modifiers and clicks all break a burst. A busy page may hold a
// key back (the webview rendering, WebKitGTK's type-ahead in a select): a
// burst survives two such stalls of up to 120 ms, as long as the whole scan
// still averages scanner speed.

/** The group separator GS1 uses between variable-length elements (scanners send Ctrl+] for it). */
export const GS = '\u001d';
/** Longest gap between two keys of one scan. Scanners send a key every 1–15 ms; people take 80 ms or more. */
export const SCAN_KEY_GAP_MAX_MS = 35;
/** Shortest scan, terminator excluded. Shorter fast bursts (a rolled "the", an Enter after two digits) are typing. */
export const SCAN_LENGTH_MIN = 6;
/** Longest scan (crates/udi BARCODE_LEN_MAX): a longer burst is not one barcode, so it is left alone. */
export const SCAN_LENGTH_MAX = 2_400;
/** A longer gap (the page was busy) that a burst survives, at most SCAN_STALLS_MAX times. */
export const SCAN_STALL_MAX_MS = 120;
export const SCAN_STALLS_MAX = 2;
/** Quiet time after which an AIM-prefixed burst without terminator is taken as complete (longer than a stall). */
export const SCAN_SETTLE_MS = 200;

/** One keydown, as the detector needs it (a subset of KeyboardEvent plus its time). */
export interface ScanKey {
  key: string;
  code?: string;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
  repeat?: boolean;
  isComposing?: boolean;
  /** When the key went down, in ms on any steady clock. */
  time: number;
  /** What had the focus; one scan goes to one target. */
  target?: unknown;
}

export type KeyVerdict =
  /** A modifier on its own (scanners press Shift for capitals): neither part of a burst nor the end of one. */
  | { kind: 'ignore' }
  /** Not part of a scan; the burst so far (if any) was typing. */
  | { kind: 'other' }
  /** A character that may belong to a scan; `startsBurst` when it is the first of a new burst. */
  | { kind: 'char'; startsBurst: boolean }
  /** Ctrl+] read as GS: it types nothing, so the caller swallows it. */
  | { kind: 'separator'; startsBurst: boolean }
  /** The terminator of a scan: `data` is what the scanner typed before it. */
  | { kind: 'scan'; data: string };

const MODIFIERS = new Set(['Shift', 'Control', 'Alt', 'AltGraph', 'Meta', 'OS', 'CapsLock', 'NumLock', 'Fn', 'Hyper', 'Super']);
const AIM_PREFIX = /^\][A-Za-z][0-9A-Za-z]/;

export class ScanDetector {
  private buffer = '';
  private first = 0;
  private last = Number.NEGATIVE_INFINITY;
  private stalls = 0;
  private target: unknown = undefined;

  constructor(
    private readonly gapMaxMs = SCAN_KEY_GAP_MAX_MS,
    private readonly lengthMin = SCAN_LENGTH_MIN,
    private readonly lengthMax = SCAN_LENGTH_MAX,
  ) {}

  /** What one keydown means. */
  key(k: ScanKey): KeyVerdict {
    if (MODIFIERS.has(k.key)) return { kind: 'ignore' };
    if (k.isComposing || k.key === 'Process' || k.repeat) return this.other();
    const gap = k.time - this.last;
    const burst = this.buffer.length > 0 && k.target === this.target;
    const stall = burst && gap > this.gapMaxMs && gap <= SCAN_STALL_MAX_MS && this.stalls < SCAN_STALLS_MAX;
    const continues = burst && (gap <= this.gapMaxMs || stall);
    if (stall) this.stalls += 1;
    // Ctrl+] is GS. With AltGr (Ctrl+Alt on Windows) ] is an ordinary character of some layouts.
    if (k.ctrlKey && !k.altKey && !k.metaKey && (k.key === ']' || k.key === GS || k.code === 'BracketRight')) {
      const startsBurst = this.take(GS, k, continues);
      return startsBurst === null ? this.other() : { kind: 'separator', startsBurst };
    }
    if ((k.key === 'Enter' || k.key === 'Tab') && !k.ctrlKey && !k.altKey && !k.metaKey && !k.shiftKey) {
      const data = this.buffer;
      // One key per character: the burst's average gap, the terminator's included.
      const fast = continues && (k.time - this.first) / data.length <= this.gapMaxMs;
      const isScan = fast && (data.length >= this.lengthMin || (AIM_PREFIX.test(data) && data.length > 3));
      this.reset();
      return isScan ? { kind: 'scan', data } : { kind: 'other' };
    }
    const character = [...k.key].length === 1;
    const plain = !k.ctrlKey && !k.altKey && !k.metaKey;
    const altGraph = k.ctrlKey && k.altKey && !k.metaKey;
    if (character && (plain || altGraph)) {
      const startsBurst = this.take(k.key, k, continues);
      return startsBurst === null ? this.other() : { kind: 'char', startsBurst };
    }
    return this.other();
  }

  /**
   * The keys stopped (nothing for SCAN_SETTLE_MS): a burst that began with an
   * AIM symbology identifier is a scan even without a terminator.
   */
  settle(): string | null {
    const data = this.buffer;
    if (!AIM_PREFIX.test(data) || data.length < this.lengthMin) return null;
    this.reset();
    return data;
  }

  reset() {
    this.buffer = '';
    this.first = 0;
    this.last = Number.NEGATIVE_INFINITY;
    this.stalls = 0;
    this.target = undefined;
  }

  /** Appends a character; whether it started a burst, or null when the burst grew too long to be a barcode. */
  private take(text: string, k: ScanKey, continues: boolean): boolean | null {
    if (!continues) {
      this.reset();
      this.first = k.time;
      this.target = k.target;
    }
    if (this.buffer.length + text.length > this.lengthMax) return null;
    this.buffer += text;
    this.last = k.time;
    return !continues;
  }

  private other(): KeyVerdict {
    this.reset();
    return { kind: 'other' };
  }
}

type Field = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

/** A field's value (and caret) before a burst typed into it. */
interface Snapshot { field: Field; value: string; selectionStart: number | null; selectionEnd: number | null }

function fieldOf(target: EventTarget | null): Field | null {
  const element = target as Element | null;
  const tag = element?.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' ? (element as Field) : null;
}

function snapshot(field: Field): Snapshot {
  const text = field.tagName !== 'SELECT' ? (field as HTMLInputElement) : null;
  let selectionStart: number | null = null;
  let selectionEnd: number | null = null;
  try {
    selectionStart = text?.selectionStart ?? null;
    selectionEnd = text?.selectionEnd ?? null;
  } catch {
    // Inputs of some types (number, email) have no selection.
  }
  return { field, value: field.value, selectionStart, selectionEnd };
}

/**
 * Puts a field back as it was, the way a person's edit would reach the page:
 * through the element's own value setter and an input/change event, so that
 * React (which tracks the last value it set) sees the change and updates its state.
 */
export function restoreField({ field, value, selectionStart, selectionEnd }: Snapshot) {
  if (field.value === value) return;
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(field), 'value')?.set;
  if (setter) setter.call(field, value);
  else field.value = value;
  field.dispatchEvent(new Event(field.tagName === 'SELECT' ? 'change' : 'input', { bubbles: true }));
  if (selectionStart !== null && selectionEnd !== null && field.tagName !== 'SELECT') {
    try {
      (field as HTMLInputElement).setSelectionRange(selectionStart, selectionEnd);
    } catch {
      // No selection on this input type.
    }
  }
}

export interface ScannerOptions {
  /** Whether anyone takes a scan right now. When nobody does, the keys are left exactly as typed. */
  claims: () => boolean;
  /** A scan, after its typing was undone and its terminator swallowed. */
  onScan: (data: string) => void;
  gapMaxMs?: number;
  lengthMin?: number;
  settleMs?: number;
  /** A key's time (default: the event's timeStamp, when it was queued, so a busy page does not split a burst). */
  timeOf?: (event: KeyboardEvent) => number;
}

/** Listens for scans on `target` (the window) until the returned function is called. */
export function installScanner(target: Window, options: ScannerOptions): () => void {
  const detector = new ScanDetector(options.gapMaxMs, options.lengthMin);
  const timeOf = options.timeOf ?? ((event: KeyboardEvent) => event.timeStamp);
  const settleMs = options.settleMs ?? SCAN_SETTLE_MS;
  let before: Snapshot | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const deliver = (data: string): boolean => {
    if (!options.claims()) return false;
    if (before) restoreField(before);
    before = null;
    options.onScan(data);
    return true;
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const verdict = detector.key({
      key: event.key, code: event.code, ctrlKey: event.ctrlKey, altKey: event.altKey, metaKey: event.metaKey,
      shiftKey: event.shiftKey, repeat: event.repeat, isComposing: event.isComposing, time: timeOf(event), target: event.target,
    });
    if (verdict.kind === 'ignore') return;
    clearTimeout(timer);
    if (verdict.kind === 'char' || verdict.kind === 'separator') {
      if (verdict.startsBurst) {
        const field = fieldOf(event.target);
        before = field ? snapshot(field) : null;
      }
      if (verdict.kind === 'separator') event.preventDefault();
      timer = setTimeout(() => {
        const data = detector.settle();
        if (data !== null) deliver(data);
      }, settleMs);
      return;
    }
    if (verdict.kind === 'scan' && deliver(verdict.data)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
    before = null;
  };
  const interrupt = () => {
    clearTimeout(timer);
    detector.reset();
    before = null;
  };

  target.addEventListener('keydown', onKeyDown, true);
  target.addEventListener('mousedown', interrupt, true);
  target.addEventListener('blur', interrupt);
  return () => {
    clearTimeout(timer);
    target.removeEventListener('keydown', onKeyDown, true);
    target.removeEventListener('mousedown', interrupt, true);
    target.removeEventListener('blur', interrupt);
  };
}
