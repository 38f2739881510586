// The fake backend's barcode reader: a small, honest imitation of crates/udi
// for GS1 only, enough for screen tests and a browser preview. It reads raw
// element strings (with or without an AIM identifier; GS separators; when a
// separator was lost, every valid split, as the engine does), the bracketed
// form and bare GTINs, with the AIs the screens use: 01, 10, 11, 17, 21, 30.
// Dates use GS1's century window and read DD = 00 as the month's last day.
// Everything else is refused with the engine's error codes. The Rust engine
// (`udi::parse`, behind the `parse_barcode` command) stays the authority.
import type { Lang } from '../bindings/Lang';
import type { ScanElement } from '../bindings/ScanElement';
import type { ScanReading } from '../bindings/ScanReading';
import type { ScanWarning } from '../bindings/ScanWarning';

/** The group separator (FNC1 inside a GS1 symbol). */
export const GS = '\u001d';
/** As in crates/udi: more readings than this is `too_ambiguous`. */
export const CANDIDATES_MAX = 8;

interface AiSpec { fixed?: number; max?: number; numeric: boolean; date?: boolean }

const AIS: Record<string, AiSpec> = {
  '01': { fixed: 14, numeric: true },
  '10': { max: 20, numeric: false },
  '11': { fixed: 6, numeric: true, date: true },
  '17': { fixed: 6, numeric: true, date: true },
  '21': { max: 20, numeric: false },
  '30': { max: 8, numeric: true },
};

/** A barcode that cannot be read: the engine's code and its message in both languages. */
export class BarcodeError {
  constructor(readonly code: string, readonly zh: string, readonly en: string) {}
}

export interface BarcodeRead {
  symbology: string | null;
  /** When `candidates` is not empty, only what all of them agree on. */
  reading: ScanReading;
  candidates: ScanReading[];
}

const unknownFormat = () => new BarcodeError('unknown_format',
  '无法识别的条码：不是 GS1、HIBC、MA 码或本系统标签。请扫描产品的 UDI 条码，或手工输入。',
  "Unrecognised barcode: not GS1, HIBC, an MA code or one of our labels. Scan the product's UDI barcode or type the data.");
const unknownAi = (ai: string) => new BarcodeError('unknown_ai',
  `条码中含有不存在的 GS1 应用标识符（${ai}…），可能是误读。请重新扫描。`,
  `The barcode holds a GS1 Application Identifier that does not exist (${ai}…); it was probably misread. Scan again.`);
const truncated = (ai: string) => new BarcodeError('truncated',
  `条码在 (${ai}) 处中断，数据不完整。请重新扫描。`,
  `The barcode stops in the middle of (${ai}); the data is incomplete. Scan again.`);
const badCheckDigit = (expected: number) => new BarcodeError('bad_check_digit',
  `GTIN 的校验位错误（应为 ${expected}），条码被误读或印刷有误。请重新扫描，仍失败请手工核对。`,
  `The check digit of GTIN is wrong (it should be ${expected}): the barcode was misread or misprinted. Scan again; if it still fails, check the label by hand.`);
const badDate = (ai: string, value: string) => new BarcodeError('bad_date',
  `(${ai}) 的日期「${value}」不是有效日期。请重新扫描或手工输入日期。`,
  `The date '${value}' in (${ai}) is not a calendar date. Scan again or type the date.`);
const badLength = (ai: string, length: number, max: number) => new BarcodeError('bad_length',
  `(${ai}) 的长度是 ${length}，应为 1–${max}。请重新扫描。`,
  `(${ai}) is ${length} characters long but must be 1–${max}. Scan again.`);
const badCharacter = (ai: string, character: string) => new BarcodeError('bad_character',
  `(${ai}) 中含有不允许的字符「${character}」。请检查扫描枪的键盘布局或分隔符设置后重新扫描。`,
  `(${ai}) holds a character it may not hold: '${character}'. Check the scanner's keyboard layout or separator setting and scan again.`);
const conflictingDuplicate = () => new BarcodeError('conflicting_duplicate',
  '条码中同一应用标识符出现两次且值不同，无法确定哪个正确。请重新扫描。',
  'An Application Identifier appears twice with different values; neither can be trusted. Scan again.');
const tooAmbiguous = () => new BarcodeError('too_ambiguous',
  '条码缺少分隔符，可能的读法太多。请把扫描枪设置为传送 GS 分隔符，或手工输入。',
  "The barcode's separators were lost and it can be read too many ways. Set the scanner to send the GS separator, or type the data.");

function warning(lang: Lang, code: string, zh: string, en: string): ScanWarning {
  return { code, message: lang === 'zh' ? zh : en };
}

/** The GS1 check digit of the digits before it. */
export function gs1CheckDigit(body: string): number {
  let sum = 0;
  // Weights 3, 1, 3, … from the rightmost digit leftwards.
  for (let i = 0; i < body.length; i++) sum += Number(body[body.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
  return (10 - (sum % 10)) % 10;
}

function checkGtin(digits: string): BarcodeError | null {
  const expected = gs1CheckDigit(digits.slice(0, -1));
  return Number(digits[digits.length - 1]) === expected ? null : badCheckDigit(expected);
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * YYMMDD with GS1's century window (a year more than 50 ahead of today's is
 * the last century's); DD = 00 is the month's last day. Null when not a date.
 */
export function gs1Date(value: string, today: string): { date: string; dayZero: boolean } | null {
  if (!/^\d{6}$/.test(value)) return null;
  const yy = Number(value.slice(0, 2));
  const month = Number(value.slice(2, 4));
  const day = Number(value.slice(4, 6));
  const thisYear = Number(today.slice(0, 4));
  const difference = yy - (thisYear % 100);
  let century = thisYear - (thisYear % 100);
  if (difference >= 51) century -= 100;
  else if (difference <= -50) century += 100;
  const year = century + yy;
  if (month < 1 || month > 12) return null;
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > lastDay) return null;
  return { date: `${year}-${pad(month)}-${pad(day === 0 ? lastDay : day)}`, dayZero: day === 0 };
}

/** What is wrong with one element's value, if anything. */
function checkElement(ai: string, spec: AiSpec, value: string, today: string): BarcodeError | null {
  if (spec.max !== undefined && (value.length < 1 || value.length > spec.max)) return badLength(ai, value.length, spec.max);
  const bad = [...value].find((c) => (spec.numeric ? !/[0-9]/.test(c) : !/[!"%-?A-Z_a-z]/.test(c)));
  if (bad !== undefined) return badCharacter(ai, bad === GS ? 'U+001D' : bad);
  if (ai === '01') return checkGtin(value);
  if (spec.date && !gs1Date(value, today)) return badDate(ai, value);
  return null;
}

/** Self-checking elements: one right after an inferred separator makes that reading trustworthy (as udi's STRONG_REPAIR_AIS). */
const STRONG_AFTER_SPLIT = ['01', '11', '17'];

interface Split { elements: ScanElement[]; repaired: boolean; strong: boolean }

/**
 * Readings of a raw element string. `literal`: a variable-length element runs
 * to the next GS or the end (the one reading a scanner that sends GS means).
 * Otherwise, as udi does when the data holds no GS at all, it may also end
 * anywhere the rest still reads (a lost separator); each such split is a
 * reading, "strong" when a self-checking element follows the split. With no
 * reading, the error met furthest into the data.
 */
function walkReadings(data: string, today: string, literal: boolean): { found: Split[]; error: BarcodeError | null } {
  const found: Split[] = [];
  let furthest = -1;
  let error: BarcodeError | null = null;
  const fail = (at: number, problem: BarcodeError) => {
    if (at > furthest) { furthest = at; error = problem; }
  };
  const walk = (pos: number, path: ScanElement[], repaired: boolean, strong: boolean, afterSplit: boolean) => {
    if (found.length > CANDIDATES_MAX * 4) return;
    if (pos >= data.length) { found.push({ elements: path, repaired, strong }); return; }
    if (data[pos] === GS) { walk(pos + 1, path, repaired, strong, false); return; }
    const ai = data.slice(pos, pos + 2);
    const spec = AIS[ai];
    if (!spec) { fail(pos, ai.length < 2 || !/^\d\d$/.test(ai) ? unknownFormat() : unknownAi(ai)); return; }
    const start = pos + 2;
    const nowStrong = strong || (afterSplit && STRONG_AFTER_SPLIT.includes(ai));
    if (spec.fixed !== undefined) {
      const value = data.slice(start, start + spec.fixed);
      if (value.length < spec.fixed || value.includes(GS)) { fail(pos, truncated(ai)); return; }
      const problem = checkElement(ai, spec, value, today);
      if (problem) { fail(pos, problem); return; }
      walk(start + spec.fixed, [...path, { id: ai, value }], repaired, nowStrong, false);
      return;
    }
    const separator = data.indexOf(GS, start);
    const literalEnd = separator === -1 ? data.length : separator;
    if (start >= literalEnd) { fail(pos, truncated(ai)); return; }
    // Longer values first, as the engine tries them.
    for (let end = literalEnd; end > start; end--) {
      if (literal && end !== literalEnd) break;
      const value = data.slice(start, end);
      const problem = checkElement(ai, spec, value, today);
      if (problem) { fail(pos, problem); continue; }
      const split = end !== literalEnd;
      walk(end, [...path, { id: ai, value }], repaired || split, nowStrong, split);
    }
  };
  walk(0, [], false, false, false);
  return { found, error };
}

/** The same AI twice with different values is no reading; twice with the same value counts once. */
function deduped(elements: ScanElement[]): ScanElement[] | null {
  const kept: ScanElement[] = [];
  for (const e of elements) {
    const earlier = kept.find((k) => k.id === e.id);
    if (!earlier) kept.push(e);
    else if (earlier.value !== e.value) return null;
  }
  return kept;
}

/** The readings the engine keeps: literal ones and strong repairs beat weak repairs; most structured first. */
function splits(data: string, today: string): { found: Split[]; error: BarcodeError | null } {
  const literal = walkReadings(data, today, true);
  if (data.includes(GS)) {
    const elements = literal.found.length ? deduped(literal.found[0].elements) : null;
    if (literal.found.length && !elements) return { found: [], error: conflictingDuplicate() };
    return { found: elements ? [{ ...literal.found[0], elements }] : [], error: literal.error };
  }
  const all: Split[] = [];
  for (const split of walkReadings(data, today, false).found) {
    const elements = deduped(split.elements);
    if (elements && !all.some((a) => JSON.stringify(a.elements) === JSON.stringify(elements))) all.push({ ...split, elements });
  }
  const trusted = all.some((r) => !r.repaired || r.strong);
  const kept = trusted ? all.filter((r) => !r.repaired || r.strong) : all;
  kept.sort((a, b) => b.elements.length - a.elements.length);
  return { found: kept, error: literal.error };
}

function reading(elements: ScanElement[], today: string, lang: Lang): ScanReading {
  const value = (ai: string) => elements.find((e) => e.id === ai)?.value ?? null;
  const warnings: ScanWarning[] = [];
  const date = (ai: string) => {
    const raw = value(ai);
    const parsed = raw === null ? null : gs1Date(raw, today);
    if (parsed?.dayZero) {
      warnings.push(warning(lang, 'day_zero',
        `(${ai}) 的日为 00，按当月最后一天 ${parsed.date} 处理；医疗器械标签不应再使用这种写法，请核对标签。`,
        `(${ai}) has day 00, read as the month's last day, ${parsed.date}; medical device labels should no longer use this. Check the label.`));
    }
    return parsed?.date ?? null;
  };
  const gtin = value('01');
  const quantity = value('30');
  return {
    di: gtin, gtin, lot: value('10'), serial: value('21'), expiry: date('17'), production_date: date('11'),
    quantity: quantity === null ? null : Number(quantity), elements, warnings,
  };
}

/** The fields every candidate agrees on, with the `ambiguous` warning. */
function agreed(candidates: ScanReading[], lang: Lang): ScanReading {
  const same = <K extends keyof ScanReading>(key: K): ScanReading[K] | null =>
    candidates.every((c) => c[key] === candidates[0][key]) ? candidates[0][key] : null;
  return {
    di: same('di'), gtin: same('gtin'), lot: same('lot'), serial: same('serial'), expiry: same('expiry'),
    production_date: same('production_date'), quantity: same('quantity'), elements: [],
    warnings: [warning(lang, 'ambiguous',
      `条码缺少分隔符，有 ${candidates.length} 种有效读法，请选择与标签上文字一致的一种。`,
      `The barcode's separators were lost and it reads ${candidates.length} valid ways; choose the one that matches the printed label.`)],
  };
}

/** Reads one scan; throws a BarcodeError when it cannot. `today` is YYYY-MM-DD. */
export function readBarcode(input: string, today: string, lang: Lang): BarcodeRead {
  const text = input.replace(/^[\r\n\t ]+|[\r\n\t ]+$/g, '');
  if (!text) throw new BarcodeError('empty', '没有扫描到任何内容，请重新扫描。', 'Nothing was scanned. Scan again.');
  const aim = /^\][A-Za-z][0-9A-Za-z]/.exec(text);
  const symbology = aim ? aim[0] : null;
  const data = aim ? text.slice(3) : text;
  let elements: ScanElement[];
  if (data.startsWith('(')) {
    elements = [];
    const pattern = /\((\d{2})\)([^(]*)/y;
    let consumed = 0;
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(data)) !== null) {
      consumed = pattern.lastIndex;
      const [, ai, value] = match;
      const spec = AIS[ai];
      if (!spec) throw unknownAi(ai);
      if (spec.fixed !== undefined && value.length !== spec.fixed) throw value.length < spec.fixed ? truncated(ai) : badLength(ai, value.length, spec.fixed);
      const problem = checkElement(ai, spec, value, today);
      if (problem) throw problem;
      elements.push({ id: ai, value });
    }
    if (consumed !== data.length || elements.length === 0) throw unknownFormat();
  } else if (/^(\d{8}|\d{12,14})$/.test(data) && !(data.length === 14 && checkGtin(data) && /^0[012]/.test(data))) {
    // (Fourteen digits with a wrong check digit that start like an element string are read as one, cut short.)
    // A bare GTIN (EAN-8, UPC-A, EAN-13, ITF-14), read as its 14-digit form.
    const problem = checkGtin(data);
    if (problem) throw problem;
    elements = [{ id: '01', value: data.padStart(14, '0') }];
  } else if (/^[0-9\u001d]/.test(data)) {
    const { found, error } = splits(data, today);
    if (found.length === 0) throw error ?? unknownFormat();
    if (found.length > CANDIDATES_MAX) throw tooAmbiguous();
    if (found.length > 1) {
      const candidates = found.map((f) => reading(f.elements, today, lang));
      return { symbology, reading: agreed(candidates, lang), candidates };
    }
    const only = reading(found[0].elements, today, lang);
    if (found[0].repaired) {
      only.warnings.push(warning(lang, 'separator_missing',
        '条码缺少分隔符，已按唯一有效的读法识别。请核对批号和序列号，并把扫描枪设置为传送 GS 分隔符。',
        "The barcode's separator was missing; the only valid reading was used. Check lot and serial, and set the scanner to send the GS separator."));
    }
    return { symbology, reading: only, candidates: [] };
  } else {
    throw unknownFormat();
  }
  return { symbology, reading: reading(elements, today, lang), candidates: [] };
}
