// Printing's pure rules for the screens: which printers can print what, the
// labels a posted receipt gets, the printer form and its checks, and a
// failed job's stored error in plain words. The core checks everything again.
import type { DocumentView } from './bindings/DocumentView';
import type { LabelRequest } from './bindings/LabelRequest';
import type { LabelSymbology } from './bindings/LabelSymbology';
import type { PrinterConnection } from './bindings/PrinterConnection';
import type { PrinterLanguage } from './bindings/PrinterLanguage';
import type { PrinterSetup } from './bindings/PrinterSetup';
import type { PrinterView } from './bindings/PrinterView';
import type { SerialFlow } from './bindings/SerialFlow';
import type { TextKey } from './i18n';

/** The core's LABELS_PER_JOB_MAX: labels in one job. */
export const LABELS_PER_JOB_MAX = 5000;
/** The ledger's PRINTER_NAME_MAX. */
export const PRINTER_NAME_MAX = 40;
/** printing::LABEL_MM_MIN / LABEL_MM_MAX. */
export const LABEL_MM_MIN = 15;
export const LABEL_MM_MAX = 250;
export const DPIS = [203, 300, 600] as const;
export const PAPERS = [58, 80] as const;
/** printing::BAUD_RATES. */
export const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600] as const;

export type Purpose = 'labels' | 'documents';

export const LANGUAGES: { id: PrinterLanguage; text: TextKey }[] = [
  { id: 'zpl', text: 'langZpl' },
  { id: 'tspl', text: 'langTspl' },
  { id: 'escpos', text: 'langEscpos' },
  { id: 'pdf', text: 'langPdf' },
];

export const SYMBOLOGIES: { id: LabelSymbology; text: TextKey }[] = [
  { id: 'data_matrix', text: 'symDataMatrix' },
  { id: 'gs1_128', text: 'symGs1128' },
  { id: 'both', text: 'symBoth' },
];

export const FLOWS: { id: SerialFlow; text: TextKey }[] = [
  { id: 'none', text: 'flowNone' },
  { id: 'hardware', text: 'flowHardware' },
  { id: 'software', text: 'flowSoftware' },
];

/** As printing's render_labels / render_document: label printers print labels, receipt printers documents, PDF both. */
export function canPrint(language: PrinterLanguage, purpose: Purpose): boolean {
  return purpose === 'labels' ? language !== 'escpos' : language === 'pdf' || language === 'escpos';
}

/** The printers (with readable settings) that can print `purpose`. */
export function printersFor(printers: PrinterView[], purpose: Purpose): PrinterView[] {
  return printers.filter((p) => p.setup !== null && canPrint(p.setup.language, purpose));
}

/** The languages made for a purpose come first: label printers for labels, A4 (PDF) for documents. */
const PREFERRED: Record<Purpose, PrinterLanguage[]> = { labels: ['zpl', 'tspl'], documents: ['pdf'] };

/**
 * The printer to offer first: the one used last for this purpose if it still
 * can, else the first made for it (a label printer for labels, a PDF printer
 * for documents), else the first that can.
 */
export function defaultPrinter(printers: PrinterView[], purpose: Purpose, remembered: string | null): string {
  const able = printersFor(printers, purpose);
  const made = able.find((p) => p.setup && PREFERRED[purpose].includes(p.setup.language));
  return (able.find((p) => p.name === remembered) ?? made ?? able[0])?.name ?? '';
}

/** One row of a receipt's label panel. */
export interface LabelLine {
  /** The first document line it stands for. */
  line: number;
  item: string;
  name: string;
  nameEn: string;
  lot: string | null;
  expiry: string | null;
  serial: string | null;
  copies: number;
}

/**
 * The labels a posted receipt gets: one per unit for serial-tracked items (a
 * serial line is one unit), one per lot otherwise; lines for the same item,
 * lot and serial share one row.
 */
export function labelLines(document: DocumentView): LabelLine[] {
  const rows: LabelLine[] = [];
  for (const l of document.lines) {
    if (rows.some((r) => r.item === l.item && r.lot === l.lot && r.serial === l.serial)) continue;
    rows.push({ line: l.line_no, item: l.item, name: l.item_name, nameEn: l.item_name_en, lot: l.lot, expiry: l.expiry, serial: l.serial, copies: 1 });
  }
  return rows;
}

export function labelRequests(rows: LabelLine[]): LabelRequest[] {
  return rows.filter((r) => r.copies > 0).map((r) => ({ item: r.item, lot: r.lot, serial: r.serial, copies: r.copies }));
}

/** A count typed in the label panel: a whole number 0..LABELS_PER_JOB_MAX, else null. */
export function parseCopies(text: string): number | null {
  if (!/^\d{1,5}$/.test(text.trim())) return null;
  const n = Number(text.trim());
  return n <= LABELS_PER_JOB_MAX ? n : null;
}

/** The printer form: every field as typed. */
export interface PrinterForm {
  name: string;
  language: PrinterLanguage;
  connection: PrinterConnection['kind'];
  host: string;
  port: string;
  queue: string;
  serialPort: string;
  baud: string;
  flow: SerialFlow;
  width: string;
  height: string;
  dpi: string;
  paper: string;
  symbology: LabelSymbology;
  font: string;
}

export const NEW_PRINTER: PrinterForm = {
  name: '', language: 'zpl', connection: 'tcp', host: '', port: '9100', queue: '', serialPort: '', baud: '9600', flow: 'none',
  width: '60', height: '40', dpi: '203', paper: '80', symbology: 'data_matrix', font: '',
};

/** A stored printer in the form (an unreadable one keeps only its name). */
export function formOf(printer: PrinterView): PrinterForm {
  const s = printer.setup;
  if (!s) return { ...NEW_PRINTER, name: printer.name };
  const c = s.connection;
  return {
    name: s.name, language: s.language, connection: c.kind,
    host: c.kind === 'tcp' ? c.host : '', port: c.kind === 'tcp' ? String(c.port) : '9100',
    queue: c.kind === 'cups' ? c.queue : '',
    serialPort: c.kind === 'serial' ? c.port : '', baud: c.kind === 'serial' ? String(c.baud) : '9600', flow: c.kind === 'serial' ? c.flow : 'none',
    width: String(s.label_width_mm), height: String(s.label_height_mm), dpi: String(s.dpi), paper: String(s.paper),
    symbology: s.symbology, font: s.font ?? '',
  };
}

export type FormProblems = Partial<Record<'name' | 'host' | 'port' | 'queue' | 'serialPort' | 'width' | 'height', TextKey>>;

/** The setup to send, or what to fix first (the core checks the address and profile again). */
export function setupOf(form: PrinterForm): { setup: PrinterSetup; problems: null } | { setup: null; problems: FormProblems } {
  const problems: FormProblems = {};
  const name = form.name.trim();
  if (!name || [...name].length > PRINTER_NAME_MAX || !/^[\p{L}\p{N}._-]+$/u.test(name)) problems.name = 'printerNameInvalid';
  let connection: PrinterConnection;
  if (form.connection === 'tcp') {
    if (!form.host.trim()) problems.host = 'printerHostRequired';
    const port = Number(form.port);
    if (!/^\d+$/.test(form.port.trim()) || port < 1 || port > 65535) problems.port = 'printerPortInvalid';
    connection = { kind: 'tcp', host: form.host.trim(), port };
  } else if (form.connection === 'cups') {
    if (!form.queue.trim()) problems.queue = 'printerQueueRequired';
    connection = { kind: 'cups', queue: form.queue.trim() };
  } else {
    if (!form.serialPort.trim()) problems.serialPort = 'printerSerialRequired';
    connection = { kind: 'serial', port: form.serialPort.trim(), baud: Number(form.baud), flow: form.flow };
  }
  const size = (text: string) => {
    const mm = Number(text.trim().replace(',', '.'));
    return text.trim() !== '' && Number.isFinite(mm) && mm >= LABEL_MM_MIN && mm <= LABEL_MM_MAX ? mm : null;
  };
  const width = size(form.width);
  const height = size(form.height);
  if (width === null) problems.width = 'labelSizeInvalid';
  if (height === null) problems.height = 'labelSizeInvalid';
  if (Object.keys(problems).length > 0) return { setup: null, problems };
  return {
    setup: {
      name, language: form.language, connection, label_width_mm: width!, label_height_mm: height!, dpi: Number(form.dpi),
      paper: Number(form.paper), symbology: form.symbology, font: form.font.trim() || null,
    },
    problems: null,
  };
}

/** A job's stored error, "[printer_refused] The printer at … refused …", as its code and its words. */
export function jobError(stored: string | null): { code: string; message: string } | null {
  if (!stored) return null;
  const match = /^\[([a-z0-9_]+)\]\s*([\s\S]*)$/.exec(stored);
  return match ? { code: match[1], message: match[2] } : { code: 'unknown', message: stored };
}

/** Bytes as people read them: 812 B, 12.4 KB, 3.1 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
