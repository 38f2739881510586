// The front end's only way to the core: one method per Tauri command.
// TauriBackend calls the real app; FakeBackend (fake.ts) serves tests and
// viewing the UI in a plain browser. Components get it from BackendContext.
import { createContext, useContext } from 'react';
import { Channel, invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { ApiError } from '../bindings/ApiError';
import type { AppInfo } from '../bindings/AppInfo';
import type { BarcodeScan } from '../bindings/BarcodeScan';
import type { DepartmentView } from '../bindings/DepartmentView';
import type { DocumentRequest } from '../bindings/DocumentRequest';
import type { DocumentView } from '../bindings/DocumentView';
import type { CountEntry } from '../bindings/CountEntry';
import type { ImportProgress } from '../bindings/ImportProgress';
import type { ImportSummary } from '../bindings/ImportSummary';
import type { ItemView } from '../bindings/ItemView';
import type { Lang } from '../bindings/Lang';
import type { LocationView } from '../bindings/LocationView';
import type { LotChoice } from '../bindings/LotChoice';
import type { MovementFilter } from '../bindings/MovementFilter';
import type { MovementView } from '../bindings/MovementView';
import type { NewItem } from '../bindings/NewItem';
import type { ObservationView } from '../bindings/ObservationView';
import type { PostedStocktake } from '../bindings/PostedStocktake';
import type { PostStocktakeRequest } from '../bindings/PostStocktakeRequest';
import type { RecountKey } from '../bindings/RecountKey';
import type { StockFilter } from '../bindings/StockFilter';
import type { StockRow } from '../bindings/StockRow';
import type { StocktakeRef } from '../bindings/StocktakeRef';
import type { StocktakeRequest } from '../bindings/StocktakeRequest';
import type { StocktakeSummary } from '../bindings/StocktakeSummary';
import type { StocktakeView } from '../bindings/StocktakeView';
import type { SupplierView } from '../bindings/SupplierView';
import type { UserView } from '../bindings/UserView';
import type { VarianceReport } from '../bindings/VarianceReport';
import type { LabelRequest } from '../bindings/LabelRequest';
import type { PrinterSetup } from '../bindings/PrinterSetup';
import type { PrinterView } from '../bindings/PrinterView';
import type { PrintJobRow } from '../bindings/PrintJobRow';
import type { PrintLabelsRequest } from '../bindings/PrintLabelsRequest';
import { PRINT_EVENT, type PrintBackend } from './printBackend';
import { COLDCHAIN_EVENT, DEVICE_EVENT, SERIAL_SCAN_EVENT, type ColdchainBackend } from './coldchainBackend';
import type { ColdchainUpdate } from '../bindings/ColdchainUpdate';
import type { ColdUnitView } from '../bindings/ColdUnitView';
import type { DeviceState } from '../bindings/DeviceState';
import type { ExcursionView } from '../bindings/ExcursionView';
import type { PortRole } from '../bindings/PortRole';
import type { ReadingView } from '../bindings/ReadingView';
import type { SensorConfig } from '../bindings/SensorConfig';
import type { SerialPortView } from '../bindings/SerialPortView';
import type { SerialScan } from '../bindings/SerialScan';
import { SYNC_APPLIED_EVENT, SYNC_PROGRESS_EVENT, SYNC_STATUS_EVENT, type SyncBackend } from './syncBackend';
import type { SyncApplied } from '../bindings/SyncApplied';
import type { CaCertificateFile } from '../bindings/CaCertificateFile';
import type { SyncProgress } from '../bindings/SyncProgress';
import type { SyncReview } from '../bindings/SyncReview';
import type { SyncStatusView } from '../bindings/SyncStatusView';

/** Printing's commands are declared in printBackend.ts, devices' and the cold chain's in coldchainBackend.ts, sync's in syncBackend.ts. */
export interface Backend extends PrintBackend, ColdchainBackend, SyncBackend {
  appInfo(): Promise<AppInfo>;
  listUsers(): Promise<UserView[]>;
  chooseUser(username: string): Promise<UserView>;
  setLanguage(language: Lang): Promise<Lang>;
  listLocations(): Promise<LocationView[]>;
  listDepartments(): Promise<DepartmentView[]>;
  listSuppliers(): Promise<SupplierView[]>;
  searchItems(query: string, limit: number): Promise<ItemView[]>;
  findItem(identifier: string): Promise<ItemView>;
  /** Creates an item (the core's permission matrix decides who may). */
  addItem(item: NewItem): Promise<ItemView>;
  /** Reads one scan (GS and AIM identifier intact) and finds its item; rejects when unreadable. */
  parseBarcode(data: string): Promise<BarcodeScan>;
  stock(filter: StockFilter): Promise<StockRow[]>;
  fefoChoices(item: string, location: string): Promise<LotChoice[]>;
  postDocument(request: DocumentRequest): Promise<DocumentView>;
  movements(filter: MovementFilter): Promise<MovementView[]>;
  trace(lotOrSerial: string): Promise<MovementView[]>;
  document(number: string): Promise<DocumentView>;

  // Stocktakes (盘点单): `stocktake` is a stocktake's id or number; the core
  // acts as the session user (any `user` in a request is replaced).
  listStocktakes(limit: number): Promise<StocktakeSummary[]>;
  startStocktake(request: StocktakeRequest): Promise<StocktakeRef>;
  /** Scope, progress (keys counted / in scope) and the session user's last scans. */
  stocktakeView(stocktake: string): Promise<StocktakeView>;
  /** One observation: quantity null = one scanned unit. */
  recordCount(stocktake: string, entry: CountEntry): Promise<ObservationView>;
  /** The typed quantity replaces that observation's quantity. */
  setCountQuantity(stocktake: string, observation: string, quantity: number): Promise<ObservationView>;
  /** Voids the session user's newest observation and returns it as it was; null when there was none. */
  undoCount(stocktake: string): Promise<ObservationView | null>;
  /** The variance table; in a blind stocktake only for those who may review stocktakes. */
  stocktakeVariance(stocktake: string): Promise<VarianceReport>;
  requestRecount(stocktake: string, keys: RecountKey[]): Promise<number>;
  /** Closes counting: only keys sent for a recount take scans. */
  finishCounting(stocktake: string): Promise<void>;
  cancelStocktake(stocktake: string): Promise<void>;
  postStocktake(stocktake: string, request: PostStocktakeRequest): Promise<PostedStocktake>;
  /** A batch scanner's file (its text): every line or none; `onProgress` while it runs. */
  importCounts(stocktake: string, text: string, location: string | null, onProgress: (progress: ImportProgress) => void): Promise<ImportSummary>;
}

/** Whatever a command rejected with, as `{code, message}`. A rejection that is
 * not an ApiError (a bug, a missing command) keeps its text under `unexpected`. */
export function asApiError(error: unknown): ApiError {
  if (error && typeof error === 'object' && 'code' in error && 'message' in error) {
    return { code: String((error as ApiError).code), message: String((error as ApiError).message) };
  }
  if (error instanceof Error) return { code: 'unexpected', message: error.message };
  return { code: 'unexpected', message: String(error) };
}

export class TauriBackend implements Backend {
  private async call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return await invoke<T>(command, args);
    } catch (error) {
      throw asApiError(error);
    }
  }
  appInfo() { return this.call<AppInfo>('app_info'); }
  listUsers() { return this.call<UserView[]>('list_users'); }
  chooseUser(username: string) { return this.call<UserView>('choose_user', { username }); }
  setLanguage(language: Lang) { return this.call<Lang>('set_language', { language }); }
  listLocations() { return this.call<LocationView[]>('list_locations'); }
  listDepartments() { return this.call<DepartmentView[]>('list_departments'); }
  listSuppliers() { return this.call<SupplierView[]>('list_suppliers'); }
  searchItems(query: string, limit: number) { return this.call<ItemView[]>('search_items', { query, limit }); }
  findItem(identifier: string) { return this.call<ItemView>('find_item', { identifier }); }
  addItem(item: NewItem) { return this.call<ItemView>('add_item', { item }); }
  parseBarcode(data: string) { return this.call<BarcodeScan>('parse_barcode', { data }); }
  stock(filter: StockFilter) { return this.call<StockRow[]>('stock', { filter }); }
  fefoChoices(item: string, location: string) { return this.call<LotChoice[]>('fefo_choices', { item, location }); }
  postDocument(request: DocumentRequest) { return this.call<DocumentView>('post_document', { request }); }
  movements(filter: MovementFilter) { return this.call<MovementView[]>('movements', { filter }); }
  trace(lotOrSerial: string) { return this.call<MovementView[]>('trace', { lotOrSerial }); }
  document(number: string) { return this.call<DocumentView>('document', { number }); }
  listStocktakes(limit: number) { return this.call<StocktakeSummary[]>('list_stocktakes', { limit }); }
  startStocktake(request: StocktakeRequest) { return this.call<StocktakeRef>('start_stocktake', { request }); }
  stocktakeView(stocktake: string) { return this.call<StocktakeView>('stocktake_view', { stocktake }); }
  recordCount(stocktake: string, entry: CountEntry) { return this.call<ObservationView>('record_count', { stocktake, entry }); }
  setCountQuantity(stocktake: string, observation: string, quantity: number) {
    return this.call<ObservationView>('set_count_quantity', { stocktake, observation, quantity });
  }
  undoCount(stocktake: string) { return this.call<ObservationView | null>('undo_count', { stocktake }); }
  stocktakeVariance(stocktake: string) { return this.call<VarianceReport>('stocktake_variance', { stocktake }); }
  requestRecount(stocktake: string, keys: RecountKey[]) { return this.call<number>('request_recount', { stocktake, keys }); }
  finishCounting(stocktake: string) { return this.call<void>('finish_counting', { stocktake }); }
  cancelStocktake(stocktake: string) { return this.call<void>('cancel_stocktake', { stocktake }); }
  postStocktake(stocktake: string, request: PostStocktakeRequest) {
    return this.call<PostedStocktake>('post_stocktake', { stocktake, request });
  }
  importCounts(stocktake: string, text: string, location: string | null, onProgress: (progress: ImportProgress) => void) {
    const channel = new Channel<ImportProgress>();
    channel.onmessage = onProgress;
    return this.call<ImportSummary>('import_counts', { stocktake, text, location, onProgress: channel });
  }
  listPrinters() { return this.call<PrinterView[]>('list_printers'); }
  setPrinter(setup: PrinterSetup) { return this.call<PrinterView>('set_printer', { setup }); }
  // Previews come back as raw bytes (tauri::ipc::Response): an ArrayBuffer.
  async previewLabel(label: LabelRequest, printer: string | null) {
    return new Uint8Array(await this.call<ArrayBuffer>('preview_label', { label, printer }));
  }
  async previewDocument(document: string) { return new Uint8Array(await this.call<ArrayBuffer>('preview_document', { document })); }
  printLabels(request: PrintLabelsRequest) { return this.call<PrintJobRow>('print_labels', { request }); }
  printDocument(document: string, printer: string) { return this.call<PrintJobRow>('print_document', { document, printer }); }
  printJobs(all: boolean) { return this.call<PrintJobRow[]>('print_jobs', { all }); }
  retryPrintJob(job: string, printer: string | null) { return this.call<PrintJobRow>('retry_print_job', { job, printer }); }
  cancelPrintJob(job: string) { return this.call<PrintJobRow>('cancel_print_job', { job }); }
  onPrintJob(handler: (job: PrintJobRow) => void) {
    const stop = listen<PrintJobRow>(PRINT_EVENT, (event) => handler(event.payload));
    return () => { void stop.then((unlisten) => unlisten()); };
  }
  serialPorts() { return this.call<SerialPortView[]>('serial_ports'); }
  setPortRole(role: PortRole) { return this.call<void>('set_port_role', { role }); }
  removePortRole(identity: string) { return this.call<void>('remove_port_role', { identity }); }
  addSensor(sensor: SensorConfig) { return this.call<string>('add_sensor', { sensor }); }
  deviceStates() { return this.call<DeviceState[]>('device_states'); }
  pendingSerialScans() { return this.call<SerialScan[]>('pending_serial_scans'); }
  acknowledgeSerialScans(seq: number) { return this.call<void>('acknowledge_serial_scans', { seq }); }
  pollNow() { return this.call<void>('poll_now'); }
  coldUnits() { return this.call<ColdUnitView[]>('cold_units'); }
  readings(location: string, hours: number) { return this.call<ReadingView[]>('readings', { location, hours }); }
  excursions(all: boolean) { return this.call<ExcursionView[]>('excursions', { all }); }
  resolveExcursion(id: string, reason: string, scrap: boolean) { return this.call<ExcursionView>('resolve_excursion', { id, reason, scrap }); }
  recordManualReading(location: string, temperatureC: number) { return this.call<void>('record_manual_reading', { location, temperatureC }); }
  importLoggerReadings(location: string, text: string, utcOffsetMinutes: number, onProgress: (progress: ImportProgress) => void) {
    const channel = new Channel<ImportProgress>();
    channel.onmessage = onProgress;
    return this.call<number>('import_logger_readings', { location, text, utcOffsetMinutes, onProgress: channel });
  }
  private subscribe<T>(event: string, handler: (payload: T) => void) {
    const stop = listen<T>(event, (e) => handler(e.payload));
    return () => { void stop.then((unlisten) => unlisten()); };
  }
  onSerialScan(handler: (scan: SerialScan) => void) { return this.subscribe(SERIAL_SCAN_EVENT, handler); }
  onDeviceState(handler: (state: DeviceState) => void) { return this.subscribe(DEVICE_EVENT, handler); }
  onColdchain(handler: (update: ColdchainUpdate) => void) { return this.subscribe(COLDCHAIN_EVENT, handler); }
  syncStatus() { return this.call<SyncStatusView>('sync_status'); }
  syncNow() { return this.call<SyncStatusView>('sync_now'); }
  enrolWorkstation(url: string, code: string, ca: CaCertificateFile | null) { return this.call<SyncStatusView>('enrol_workstation', { url, code, ca }); }
  replaceSyncCa(ca: CaCertificateFile) { return this.call<SyncStatusView>('replace_sync_ca', { ca }); }
  syncReview() { return this.call<SyncReview>('sync_review'); }
  onSyncStatus(handler: (status: SyncStatusView) => void) { return this.subscribe(SYNC_STATUS_EVENT, handler); }
  onSyncProgress(handler: (progress: SyncProgress) => void) { return this.subscribe(SYNC_PROGRESS_EVENT, handler); }
  onSyncApplied(handler: (applied: SyncApplied) => void) { return this.subscribe(SYNC_APPLIED_EVENT, handler); }
}

export const BackendContext = createContext<Backend | null>(null);

export function useBackend(): Backend {
  const backend = useContext(BackendContext);
  if (!backend) throw new Error('BackendContext is not provided');
  return backend;
}

/** Inside the Tauri webview the real backend, elsewhere the fake. */
export function isTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}
