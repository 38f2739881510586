// The printing commands of the Backend (src-tauri/src/printing.rs): this
// workstation's printers, previews as bytes, and the print queue. Printing
// never waits for a printer: print* queue the job and return at once; each
// finished attempt (sent or failed) arrives through onPrintJob.
import type { LabelRequest } from '../bindings/LabelRequest';
import type { PrinterSetup } from '../bindings/PrinterSetup';
import type { PrinterView } from '../bindings/PrinterView';
import type { PrintJobRow } from '../bindings/PrintJobRow';
import type { PrintLabelsRequest } from '../bindings/PrintLabelsRequest';

export interface PrintBackend {
  listPrinters(): Promise<PrinterView[]>;
  /** Adds or changes a printer (who may edit master data). */
  setPrinter(setup: PrinterSetup): Promise<PrinterView>;
  /** One label as a PNG, laid out for `printer` (null: a 60 × 40 mm label at 203 dpi). */
  previewLabel(label: LabelRequest, printer: string | null): Promise<Uint8Array>;
  /** A posted document (number or id) as an A4 PDF. */
  previewDocument(document: string): Promise<Uint8Array>;
  /** Renders, queues and hands the labels to the print worker; the job comes back queued. */
  printLabels(request: PrintLabelsRequest): Promise<PrintJobRow>;
  /** A posted document in the printer's language (A4 PDF or ESC/POS), queued likewise. */
  printDocument(document: string, printer: string): Promise<PrintJobRow>;
  /** Waiting and failed jobs, newest first; `all` adds sent and cancelled ones. */
  printJobs(all: boolean): Promise<PrintJobRow[]>;
  /** Sends a waiting or failed job again, to its printer or to `printer` (same language: the bytes are kept). */
  retryPrintJob(job: string, printer: string | null): Promise<PrintJobRow>;
  cancelPrintJob(job: string): Promise<PrintJobRow>;
  /** Calls `handler` with each finished attempt; returns the function that stops it. */
  onPrintJob(handler: (job: PrintJobRow) => void): () => void;
}

/** The app's event for a finished attempt (src-tauri PRINT_EVENT). */
export const PRINT_EVENT = 'print-job';
