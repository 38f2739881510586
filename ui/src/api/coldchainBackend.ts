// The devices and cold-chain commands of the Backend (src-tauri/src/coldchain.rs
// and devices.rs): serial ports with their USB identity and role, sensors,
// device states, serial scans (emitted as events, acknowledged once routed,
// fetched again if the page was not listening), cold units, readings,
// excursions, manual readings and logger files.
import type { ColdchainUpdate } from '../bindings/ColdchainUpdate';
import type { ColdUnitView } from '../bindings/ColdUnitView';
import type { DeviceState } from '../bindings/DeviceState';
import type { ExcursionView } from '../bindings/ExcursionView';
import type { ImportProgress } from '../bindings/ImportProgress';
import type { PortRole } from '../bindings/PortRole';
import type { ReadingView } from '../bindings/ReadingView';
import type { SensorConfig } from '../bindings/SensorConfig';
import type { SerialPortView } from '../bindings/SerialPortView';
import type { SerialScan } from '../bindings/SerialScan';

export interface ColdchainBackend {
  /** This machine's serial ports with their roles, then stored roles whose device is absent. */
  serialPorts(): Promise<SerialPortView[]>;
  /** Sets a port's role (who may edit master data); the scanners restart. */
  setPortRole(role: PortRole): Promise<void>;
  removePortRole(identity: string): Promise<void>;
  /** Adds a thermometer to a cold unit; returns its id. */
  addSensor(sensor: SensorConfig): Promise<string>;
  deviceStates(): Promise<DeviceState[]>;
  /** Serial scans emitted but not acknowledged, oldest first. */
  pendingSerialScans(): Promise<SerialScan[]>;
  /** Every serial scan up to `seq` has been routed. */
  acknowledgeSerialScans(seq: number): Promise<void>;
  /** Reads every sensor now. */
  pollNow(): Promise<void>;
  coldUnits(): Promise<ColdUnitView[]>;
  /** A unit's readings over the last `hours`, oldest first. */
  readings(location: string, hours: number): Promise<ReadingView[]>;
  /** Open excursions, newest first (`all` adds resolved ones). */
  excursions(all: boolean): Promise<ExcursionView[]>;
  /** A manager releases (or scraps) what the excursion quarantined, with a reason. */
  resolveExcursion(id: string, reason: string, scrap: boolean): Promise<ExcursionView>;
  /** A temperature measured by hand now, by the session user. */
  recordManualReading(location: string, temperatureC: number): Promise<void>;
  /** A data logger's CSV (its text): every line or none; returns the readings stored. */
  importLoggerReadings(location: string, text: string, utcOffsetMinutes: number, onProgress: (progress: ImportProgress) => void): Promise<number>;
  /** Each serial scan as it comes; returns the function that stops listening. */
  onSerialScan(handler: (scan: SerialScan) => void): () => void;
  onDeviceState(handler: (state: DeviceState) => void): () => void;
  onColdchain(handler: (update: ColdchainUpdate) => void): () => void;
}

/** The app's events (src-tauri/src/devices.rs). */
export const SERIAL_SCAN_EVENT = 'serial-scan';
export const DEVICE_EVENT = 'device-state';
export const COLDCHAIN_EVENT = 'coldchain';
