// The printing part of FakeBackend: printers, previews and the print queue
// in miniature, after src-tauri/src/printing.rs and the ledger's queue (the
// same checks, codes and abridged messages). Previews are real files: a PNG
// at the printer's dot size (a blank label with its border) and a small
// one-page PDF listing the document's lines, so a browser shows both.
// The fake's network: a TCP printer answers on port 9100 and refuses on any
// other port; CUPS queues and serial ports always take the job. A job is
// "sent" `sendDelayMs` after it was handed over, off the caller's turn, and
// the outcome goes to every `onPrintJob` handler, as the app's event does.
import type { DocumentView } from '../bindings/DocumentView';
import type { ItemView } from '../bindings/ItemView';
import type { LabelRequest } from '../bindings/LabelRequest';
import type { Lang } from '../bindings/Lang';
import type { PrinterSetup } from '../bindings/PrinterSetup';
import type { PrinterView } from '../bindings/PrinterView';
import type { PrintJobKind } from '../bindings/PrintJobKind';
import type { PrintJobRow } from '../bindings/PrintJobRow';
import type { PrintLabelsRequest } from '../bindings/PrintLabelsRequest';
import type { UserView } from '../bindings/UserView';
import { BAUD_RATES, canPrint, DPIS, LABEL_MM_MAX, LABEL_MM_MIN, LABELS_PER_JOB_MAX, PAPERS, PRINTER_NAME_MAX } from '../printingRules';

/** What the printing fake needs from the rest of FakeBackend. */
export interface FakePrintHost {
  reply<T>(command: string, args: unknown, body: () => T): Promise<T>;
  fail(code: string, zh: string, en: string): never;
  user(): UserView | null;
  /** The core's permission matrix: EditMasterData (printers are master data). */
  mayEditMasterData(user: UserView): boolean;
  language(): Lang;
  /** The item with this identifier; fails with unknown_item. */
  item(identifier: string): ItemView;
  document(number: string): DocumentView | undefined;
}

/** The demo workstation's printers. */
export const FAKE_PRINTERS: PrinterSetup[] = [
  {
    name: 'a4-office', language: 'pdf', connection: { kind: 'cups', queue: 'Office_A4' }, label_width_mm: 60, label_height_mm: 40,
    dpi: 203, paper: 80, symbology: 'data_matrix', font: null,
  },
  {
    name: 'receipt80', language: 'escpos', connection: { kind: 'tcp', host: '192.168.10.30', port: 9100 }, label_width_mm: 60,
    label_height_mm: 40, dpi: 203, paper: 80, symbology: 'data_matrix', font: null,
  },
  {
    name: 'zebra1', language: 'zpl', connection: { kind: 'tcp', host: '192.168.10.21', port: 9100 }, label_width_mm: 60,
    label_height_mm: 40, dpi: 203, paper: 80, symbology: 'data_matrix', font: null,
  },
];

/** As printing's Connection Display: the stored URI. */
function uriOf(setup: PrinterSetup): string {
  const c = setup.connection;
  if (c.kind === 'tcp') return c.host.includes(':') ? `tcp://[${c.host}]:${c.port}` : `tcp://${c.host}:${c.port}`;
  if (c.kind === 'cups') return `cups://${c.queue}`;
  return `serial://${c.port}?baud=${c.baud}&flow=${c.flow}`;
}

/** Printer dots per millimetre (203 dpi printers are 8 dots/mm). */
const dotsPerMm = (dpi: number) => (dpi === 203 ? 8 : dpi / 25.4);

const clone = <T,>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export class FakePrinting {
  /** Milliseconds between handing a job over and its outcome. */
  sendDelayMs = 20;
  private printers = new Map<string, PrinterSetup>();
  private jobs: PrintJobRow[] = [];
  private handlers = new Set<(job: PrintJobRow) => void>();
  private counter = 0;

  constructor(private host: FakePrintHost) {
    for (const p of FAKE_PRINTERS) this.printers.set(p.name, clone(p));
  }

  /** Adds a printer without asking who (for tests). */
  seed(setup: PrinterSetup) { this.printers.set(setup.name, clone(setup)); }

  private view(setup: PrinterSetup): PrinterView {
    return { name: setup.name, uri: uriOf(setup), setup };
  }

  private printer(name: string): PrinterSetup {
    const found = this.printers.get(name.trim());
    if (!found) this.host.fail('unknown_printer', `本工作站没有打印机 ${name}。请先在设置中添加。`, `This workstation has no printer ${name}. Add it in the settings first.`);
    return found;
  }

  private sessionUser(): UserView {
    const user = this.host.user();
    if (!user) this.host.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
    return user;
  }

  private badUri(setup: PrinterSetup, zh: string, en: string): never {
    const uri = uriOf(setup);
    return this.host.fail('bad_printer_uri',
      `打印机地址「${uri}」无效（${zh}）。格式：tcp://主机:9100、cups://队列名 或 serial:///dev/ttyUSB0?baud=9600。`,
      `The printer address '${uri}' is not valid (${en}). Use tcp://HOST:9100, cups://QUEUE or serial:///dev/ttyUSB0?baud=9600.`);
  }

  private badProfile(field: string, value: string | number): never {
    return this.host.fail('bad_profile', `打印机设置中的${field}「${value}」无效。`, `The printer setting ${field} '${value}' is not valid.`);
  }

  listPrinters(): Promise<PrinterView[]> {
    return this.host.reply('list_printers', null, () => [...this.printers.values()].sort((a, b) => a.name.localeCompare(b.name)).map((p) => this.view(p)));
  }

  setPrinter(setup: PrinterSetup): Promise<PrinterView> {
    return this.host.reply('set_printer', { setup }, () => {
      const c = setup.connection;
      if (c.kind === 'tcp') {
        if (!c.host.trim() || /\s/.test(c.host.trim())) this.badUri(setup, '主机名无效', 'not a host name');
        if (!(c.port >= 1 && c.port <= 65535)) this.badUri(setup, '端口为 1–65535', 'the port is a number from 1 to 65535');
      } else if (c.kind === 'cups') {
        if (!/^[A-Za-z0-9_.@][A-Za-z0-9_.@-]*$/.test(c.queue.trim())) this.badUri(setup, '队列名只能包含字母、数字和 _ . - @', 'a queue name is letters, digits and _ . - @');
      } else {
        if (!/^[A-Za-z0-9_./][A-Za-z0-9_./-]*$/.test(c.port.trim()) || c.port.split('/').includes('..')) {
          this.badUri(setup, '串口应为 /dev/ttyUSB0 或 COM3 这样的设备', 'a serial port is a device path like /dev/ttyUSB0 or COM3');
        }
        if (!(BAUD_RATES as readonly number[]).includes(c.baud)) this.badUri(setup, `不支持波特率 ${c.baud}`, `${c.baud} baud is not a rate printers offer`);
      }
      if (!(DPIS as readonly number[]).includes(setup.dpi)) this.badProfile('dpi', setup.dpi);
      if (!(PAPERS as readonly number[]).includes(setup.paper)) this.badProfile('paper', setup.paper);
      for (const [field, value] of [['label_width_mm', setup.label_width_mm], ['label_height_mm', setup.label_height_mm]] as const) {
        if (!(value >= LABEL_MM_MIN && value <= LABEL_MM_MAX)) this.badProfile(field, value);
      }
      const name = setup.name.trim();
      if (!name || [...name].length > PRINTER_NAME_MAX || !/^[\p{L}\p{N}._-]+$/u.test(name)) {
        this.host.fail('invalid_input', `printer name 无效：1–${PRINTER_NAME_MAX} 个字母、数字、'-'、'_' 或 '.'。请更正后重试。`,
          `Invalid printer name: 1–${PRINTER_NAME_MAX} letters, digits, '-', '_' or '.'. Correct it and try again.`);
      }
      const user = this.sessionUser();
      if (!this.host.mayEditMasterData(user)) {
        this.host.fail('forbidden', `用户 ${user.username} 无权修改基础数据。请由有权限的人员操作。`,
          `User ${user.username} (${user.role}) may not edit master data. Ask someone with that permission.`);
      }
      const stored: PrinterSetup = { ...setup, name, font: setup.font?.trim() || null };
      this.printers.set(name, stored);
      return this.view(stored);
    });
  }

  async previewLabel(label: LabelRequest, printer: string | null): Promise<Uint8Array> {
    const size = await this.host.reply('preview_label', { label, printer }, () => {
      this.host.item(label.item);
      const setup = printer ? this.printer(printer) : null;
      const dpm = dotsPerMm(setup?.dpi ?? 203);
      return { width: Math.round((setup?.label_width_mm ?? 60) * dpm), height: Math.round((setup?.label_height_mm ?? 40) * dpm) };
    });
    return blankLabelPng(size.width, size.height);
  }

  async previewDocument(document: string): Promise<Uint8Array> {
    const found = await this.host.reply('preview_document', { document }, () => {
      this.sessionUser();
      const doc = this.host.document(document);
      if (!doc) this.host.fail('unknown_document', `没有单据 ${document}。`, `There is no document ${document}.`);
      return doc;
    });
    return documentPdf(found);
  }

  printLabels(request: PrintLabelsRequest): Promise<PrintJobRow> {
    return this.host.reply('print_labels', { request }, () => {
      this.sessionUser();
      const setup = this.printer(request.printer);
      const total = request.labels.reduce((n, l) => n + l.copies, 0);
      if (total > LABELS_PER_JOB_MAX) {
        this.host.fail('too_many_labels', `一次最多打印 ${LABELS_PER_JOB_MAX} 张标签，本次有 ${total} 张。请分批打印。`,
          `A job holds at most ${LABELS_PER_JOB_MAX} labels; this one has ${total}. Print them in batches.`);
      }
      for (const l of request.labels) if (l.copies > 0) this.host.item(l.item);
      if (total === 0) this.host.fail('no_labels', '没有要打印的标签。', 'There are no labels to print.');
      this.unsupported(setup, 'labels');
      const parts = request.labels.filter((l) => l.copies > 0).map((l) => `${l.copies} × ${l.item.trim()} ${(l.serial ?? l.lot ?? '').trim()}`.trimEnd());
      const what = request.document?.trim() ? `${request.document.trim()}: ${parts.join(', ')}` : parts.join(', ');
      return this.queue(setup, 'label', what, total * 420);
    });
  }

  printDocument(document: string, printer: string): Promise<PrintJobRow> {
    return this.host.reply('print_document', { document, printer }, () => {
      this.sessionUser();
      const setup = this.printer(printer);
      const doc = this.host.document(document);
      if (!doc || !doc.number) this.host.fail('unknown_document', `没有单据 ${document}。`, `There is no document ${document}.`);
      this.unsupported(setup, 'documents');
      return this.queue(setup, 'document', doc.number, setup.language === 'pdf' ? 24_000 + doc.lines.length * 900 : 600 + doc.lines.length * 120);
    });
  }

  printJobs(all: boolean): Promise<PrintJobRow[]> {
    return this.host.reply('print_jobs', { all }, () =>
      [...this.jobs].reverse().filter((j) => all || j.status === 'queued' || j.status === 'failed'));
  }

  retryPrintJob(job: string, printer: string | null): Promise<PrintJobRow> {
    return this.host.reply('retry_print_job', { job, printer }, () => {
      this.sessionUser();
      const found = this.waiting(job);
      if (printer?.trim()) {
        this.refuseWhileSending(found);
        const target = this.printer(printer);
        // The kept bytes are in the job's printer's language: only a printer that speaks it may take them.
        const from = this.printers.get(found.printer);
        if (from && from.language !== target.language) {
          this.host.fail('invalid_input', `printer 无效：${target.name} 不支持 ${from.name} 的任务语言。请更正后重试。`,
            `Invalid printer: ${target.name} does not speak the language of ${from.name}'s job. Correct it and try again.`);
        }
        found.printer = target.name;
        found.status = 'queued';
      }
      this.hand(found);
      return found;
    });
  }

  cancelPrintJob(job: string): Promise<PrintJobRow> {
    return this.host.reply('cancel_print_job', { job }, () => {
      this.sessionUser();
      const found = this.jobs.find((j) => j.id === job);
      if (found) this.refuseWhileSending(found);
      const waiting = this.waiting(job);
      waiting.status = 'cancelled';
      return waiting;
    });
  }

  onPrintJob(handler: (job: PrintJobRow) => void): () => void {
    this.handlers.add(handler);
    return () => { this.handlers.delete(handler); };
  }

  private unsupported(setup: PrinterSetup, output: 'labels' | 'documents') {
    if (canPrint(setup.language, output)) return;
    this.host.fail('unsupported_output', `${setup.language} 打印机不能打印${output === 'labels' ? '标签' : '单据'}。请选择其他打印机。`,
      `A ${setup.language} printer cannot print ${output}. Choose another printer.`);
  }

  private waiting(job: string): PrintJobRow {
    const found = this.jobs.find((j) => j.id === job && (j.status === 'queued' || j.status === 'failed'));
    if (!found) {
      this.host.fail('unknown_print_job', `没有等待中的打印任务 ${job}（可能已打印或已取消）。`,
        `There is no waiting print job ${job} (it may have been printed or cancelled).`);
    }
    return found;
  }

  private refuseWhileSending(job: PrintJobRow) {
    if (job.sending) {
      this.host.fail('print_job_sending', '该打印任务正在发送，请等待结果后再操作。', 'The job is being sent right now. Wait for the outcome, then try again.');
    }
  }

  private queue(setup: PrinterSetup, kind: PrintJobKind, description: string, bytes: number): PrintJobRow {
    this.counter += 1;
    const job: PrintJobRow = {
      id: `job-${String(this.counter).padStart(6, '0')}`, printer: setup.name, kind, description: description.slice(0, 200), bytes,
      status: 'queued', attempts: 0, last_error: null, created_at_ms: Date.now(), sent_at_ms: null, sending: false,
    };
    this.jobs.push(job);
    this.hand(job);
    return job;
  }

  /** The worker takes the job; its outcome comes later, on another turn. */
  private hand(job: PrintJobRow) {
    if (job.sending) return;
    job.sending = true;
    setTimeout(() => this.send(job), this.sendDelayMs);
  }

  private send(job: PrintJobRow) {
    job.sending = false;
    if (job.status !== 'queued' && job.status !== 'failed') return;
    const setup = this.printers.get(job.printer);
    const c = setup?.connection;
    job.attempts += 1;
    if (c && c.kind === 'tcp' && c.port !== 9100) {
      const address = `${c.host}:${c.port}`;
      job.status = 'failed';
      job.last_error = this.host.language() === 'zh'
        ? `[printer_refused] 打印机 ${address} 拒绝连接：打印机可能未开机，或端口不对。任务已保留，可稍后重试。`
        : `[printer_refused] The printer at ${address} refused the connection: it may be off, or the port is wrong. The job is kept; retry later.`;
    } else {
      job.status = 'sent';
      job.last_error = null;
      job.sent_at_ms = Date.now();
    }
    for (const handler of [...this.handlers]) handler(clone(job));
  }
}

// ---- preview files -------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const u32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const ascii = (text: string) => new Uint8Array([...text].map((c) => c.charCodeAt(0) & 0xff));

function chunk(type: string, data: Uint8Array): Uint8Array {
  const body = concat([ascii(type), data]);
  return concat([u32(data.length), body, u32(crc32(body))]);
}

/** A white label with a black border, 8-bit grey, as an uncompressed (stored) zlib stream. */
export function blankLabelPng(width: number, height: number): Uint8Array {
  const row = width + 1;
  const raw = new Uint8Array(row * height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0;
    for (let x = 0; x < width; x++) {
      const edge = x < 3 || y < 3 || x >= width - 3 || y >= height - 3;
      raw[y * row + 1 + x] = edge ? 0 : 255;
    }
  }
  const blocks: Uint8Array[] = [new Uint8Array([0x78, 0x01])];
  for (let at = 0; at < raw.length; at += 65535) {
    const part = raw.subarray(at, Math.min(at + 65535, raw.length));
    const last = at + 65535 >= raw.length ? 1 : 0;
    blocks.push(new Uint8Array([last, part.length & 0xff, part.length >>> 8, ~part.length & 0xff, (~part.length >>> 8) & 0xff]), part);
  }
  let a = 1;
  let b = 0;
  for (const v of raw) { a = (a + v) % 65521; b = (b + a) % 65521; }
  blocks.push(u32(((b << 16) | a) >>> 0));
  const header = concat([u32(width), u32(height), new Uint8Array([8, 0, 0, 0, 0])]);
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', concat(blocks)), chunk('IEND', new Uint8Array()),
  ]);
}

/** One A4 page in Helvetica: the number and each line's code, lot, expiry, serial and quantity (ASCII only). */
export function documentPdf(document: DocumentView): Uint8Array {
  const safe = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').replace(/[\\()]/g, (c) => `\\${c}`);
  const rows = [
    `${document.kind.toUpperCase()} ${document.number ?? ''}`,
    `${document.location ?? ''} ${document.supplier ?? ''} ${document.department ?? ''}`.trim(),
    ...document.lines.map((l) => `${l.line_no}  ${l.item}  ${l.lot ?? ''}  ${l.expiry ?? ''}  ${l.serial ?? ''}  ${l.quantity}`),
  ];
  const content = ['BT', '/F1 12 Tf', '56 780 Td', '16 TL', ...rows.map((r) => `(${safe(r)}) '`), 'ET'].join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
  ];
  let text = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => { offsets.push(text.length); text += `${i + 1} 0 obj\n${body}\nendobj\n`; });
  const xref = text.length;
  text += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  text += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return ascii(text);
}
