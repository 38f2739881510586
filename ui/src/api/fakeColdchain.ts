// The devices and cold-chain part of FakeBackend, after src-tauri's
// coldchain.rs and the ledger's coldchain.rs in miniature: one cold room
// (COLD, 2–8 °C) with a day of logger readings, an excursion that a test or
// the browser preview can open (`warm`), the same permission checks, codes
// and abridged messages, and the temperature gate the fake's posting asks.
// Serial scans are simulated with `serialScan(data)`, emitted like the app's event.
import type { ColdchainUpdate } from '../bindings/ColdchainUpdate';
import type { ColdUnitView } from '../bindings/ColdUnitView';
import type { DeviceState } from '../bindings/DeviceState';
import type { ExcursionView } from '../bindings/ExcursionView';
import type { ImportProgress } from '../bindings/ImportProgress';
import type { Lang } from '../bindings/Lang';
import type { PortRole } from '../bindings/PortRole';
import type { ReadingView } from '../bindings/ReadingView';
import type { SensorConfig } from '../bindings/SensorConfig';
import type { SerialPortView } from '../bindings/SerialPortView';
import type { SerialScan } from '../bindings/SerialScan';
import type { UserView } from '../bindings/UserView';
import type { ColdchainBackend } from './coldchainBackend';

/** What the cold-chain fake needs from the rest of FakeBackend. */
export interface FakeColdchainHost {
  reply<T>(command: string, args: unknown, body: () => T): Promise<T>;
  fail(code: string, zh: string, en: string): never;
  user(): UserView | null;
  mayEditMasterData(user: UserView): boolean;
  mayResolveExcursions(user: UserView): boolean;
  language(): Lang;
  /** Moves every available unit at `location` to quarantined; returns how many. */
  quarantine(location: string): number;
  /** Moves what is quarantined at `location` back to available (or scraps it). */
  release(location: string, scrap: boolean, reason: string): void;
  nowMs(): number;
}

const MINUTE = 60_000;

interface Unit { code: string; name: string; name_en: string; min: number; max: number; gate: number; excursion: number }

const UNITS: Unit[] = [{ code: 'COLD', name: '冷库', name_en: 'Cold Room', min: 2, max: 8, gate: 15, excursion: 30 }];

export class FakeColdchain implements ColdchainBackend {
  private series = new Map<string, ReadingView[]>();
  private list: ExcursionView[] = [];
  private roles: PortRole[] = [];
  private sensors: SensorConfig[] = [{ location: 'COLD', port: '/dev/ttyUSB0', protocol: 'modbus-rtu', slave: 1, model: 'xy-md02', baud: 9600, pattern: '' }];
  private states: DeviceState[] = [];
  private pending: SerialScan[] = [];
  private seq = 0;
  private scanHandlers = new Set<(scan: SerialScan) => void>();
  private stateHandlers = new Set<(state: DeviceState) => void>();
  private coldHandlers = new Set<(update: ColdchainUpdate) => void>();

  constructor(private host: FakeColdchainHost) {
    // A day of logger readings every 30 minutes, in range, the newest two hours ago (so the gate asks).
    const now = host.nowMs();
    const day: ReadingView[] = [];
    for (let at = now - 24 * 60 * MINUTE; at <= now - 120 * MINUTE; at += 30 * MINUTE) {
      const wave = Math.sin((at / (60 * MINUTE)) * 0.7);
      day.push({ at_ms: at, temperature_c: Math.round((5 + wave * 1.6) * 10) / 10, humidity_pct: null, source: 'logger' });
    }
    this.series.set('COLD', day);
    this.states = [{
      identity: '/dev/ttyUSB0', path: '/dev/ttyUSB0', role: 'thermometer', description: 'RS-485', connection: 'connected',
      last_activity_ms: now - 2 * MINUTE, last_scan: null, last_reading_c: 5.1, count: 48, timeouts: 1, crc_errors: 0, garbage: 0,
      queue_full: 0, reconnects: 0, last_error: null,
    }];
  }

  private say(zh: string, en: string) { return this.host.language() === 'zh' ? zh : en; }

  private unit(code: string): Unit {
    const unit = UNITS.find((u) => u.code === code);
    if (!unit) this.host.fail('unknown_location', `没有库位 ${code}。请检查库位代码。`, `There is no location ${code}. Check the location code.`);
    return unit;
  }

  private acting(check: (user: UserView) => boolean, action: string): UserView {
    const user = this.host.user();
    if (!user) this.host.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
    if (!check(user)) {
      this.host.fail('forbidden', `用户 ${user.username} 无权${action}。请由有权限的人员操作。`, `User ${user.username} (${user.role}) may not ${action}.`);
    }
    return user;
  }

  /** The gate on issuing a cold-chain item from `location` (the core's rule in miniature). */
  gate(location: string) {
    const unit = UNITS.find((u) => u.code === location);
    if (!unit) return;
    const since = this.host.nowMs() - unit.gate * MINUTE;
    const recent = (this.series.get(location) ?? []).filter((r) => r.at_ms >= since);
    const instrument = recent.filter((r) => r.source !== 'manual').at(-1);
    const manual = recent.filter((r) => r.source === 'manual').at(-1);
    const latest = instrument ?? manual;
    if (!latest) {
      this.host.fail('temperature_check_required', `${location} 最近 ${unit.gate} 分钟没有温度读数。请测量温度并记录后再出库冷链品。`,
        `${location} has no temperature reading in the last ${unit.gate} minutes. Measure the temperature and record it before issuing cold-chain items.`);
    }
    if (latest.temperature_c < unit.min || latest.temperature_c > unit.max) {
      this.host.fail('temperature_out_of_range', `${location} 当前温度 ${latest.temperature_c.toFixed(1)} °C，超出 ${unit.min}–${unit.max} °C，冷链品不能出库。请通知主管。`,
        `${location} reads ${latest.temperature_c.toFixed(1)} °C, outside ${unit.min}–${unit.max} °C: cold-chain items cannot be issued. Tell a manager.`);
    }
  }

  /** The browser preview's and tests' sensor: a reading now; out of range long enough opens an excursion. */
  warm(location: string, temperatureC: number) {
    const unit = this.unit(location);
    const now = this.host.nowMs();
    const series = this.series.get(location) ?? [];
    series.push({ at_ms: now - unit.excursion * MINUTE, temperature_c: temperatureC, humidity_pct: null, source: 'sensor' });
    series.push({ at_ms: now, temperature_c: temperatureC, humidity_pct: null, source: 'sensor' });
    this.series.set(location, series);
    const update: ColdchainUpdate = { at_ms: now, readings: [{ location, port: '/dev/ttyUSB0', temperature_c: temperatureC, humidity_pct: null }], errors: [], excursions: [] };
    const out = temperatureC < unit.min || temperatureC > unit.max;
    if (out && !this.list.some((x) => x.location === location && x.status === 'open')) {
      const units = this.host.quarantine(location);
      const excursion: ExcursionView = {
        id: `exc-${this.list.length + 1}`, location, kind: 'out_of_range', started_at_ms: now - unit.excursion * MINUTE, detected_at_ms: now,
        worst_c: temperatureC, status: 'open', quarantined_units: units, resolved_by: null, resolution_reason: null, reopened_at_ms: null,
      };
      this.list.unshift(excursion);
      update.excursions.push(structuredClone(excursion));
    }
    for (const handler of this.coldHandlers) handler(structuredClone(update));
  }

  /** What a pulled compensation does when a release made elsewhere, not knowing of this
   *  unit's last excursion, let out stock it held: the stock goes back into quarantine and
   *  the excursion opens again (the core's quarantine_wins). Apply it in a sync round. */
  reopenFromSync(location: string) {
    const excursion = this.list.find((x) => x.location === location && x.status !== 'open');
    if (!excursion || this.list.some((x) => x.location === location && x.status === 'open')) return;
    Object.assign(excursion, { status: 'open', reopened_at_ms: this.host.nowMs(), quarantined_units: this.host.quarantine(location) });
  }

  /** What a serial scanner sends: the app's event, and pending until acknowledged. */
  serialScan(data: string, port = '/dev/ttyACM0') {
    const scan: SerialScan = { seq: ++this.seq, port, data };
    this.pending.push(scan);
    for (const handler of this.scanHandlers) handler({ ...scan });
    return scan;
  }

  serialPorts(): Promise<SerialPortView[]> {
    return this.host.reply('serial_ports', null, () => {
      const present: SerialPortView[] = [
        { path: '/dev/ttyACM0', kind: 'usb', vendor_id: '0c2e', product_id: '0b61', serial_number: '21045B0123', manufacturer: 'Honeywell', product: 'Xenon 1950g', identity: 'usb:0c2e:0b61:21045B0123', role: null, sensors: [] },
        { path: '/dev/ttyUSB0', kind: 'usb', vendor_id: '1a86', product_id: '7523', serial_number: null, manufacturer: 'QinHeng', product: 'USB-Serial (RS-485)', identity: 'usb:1a86:7523:', role: null, sensors: [] },
      ];
      for (const port of present) {
        port.role = this.roles.find((r) => r.identity === port.identity) ?? null;
        port.sensors = this.sensors.filter((s) => s.port === port.path);
      }
      const absent = this.roles.filter((r) => !present.some((p) => p.identity === r.identity)).map((r): SerialPortView => ({
        path: r.path, kind: 'absent', vendor_id: null, product_id: null, serial_number: null, manufacturer: null, product: r.description || null,
        identity: r.identity, role: r, sensors: [],
      }));
      return [...present, ...absent];
    });
  }

  setPortRole(role: PortRole): Promise<void> {
    return this.host.reply('set_port_role', { role }, () => {
      this.acting((u) => this.host.mayEditMasterData(u), this.say('修改基础数据', 'edit master data'));
      if (!['scanner', 'thermometer'].includes(role.role)) this.host.fail('invalid_input', `role 无效：${role.role}。`, `Invalid role: ${role.role}.`);
      if (!['cr', 'lf', 'crlf', 'tab'].includes(role.terminator)) this.host.fail('invalid_input', 'terminator 无效。', 'Invalid terminator.');
      this.roles = [...this.roles.filter((r) => r.identity !== role.identity), { ...role }];
      if (role.role === 'scanner') {
        this.states = [...this.states.filter((s) => s.identity !== role.identity), {
          identity: role.identity, path: role.path, role: 'scanner', description: role.description, connection: 'connected', last_activity_ms: null,
          last_scan: null, last_reading_c: null, count: 0, timeouts: 0, crc_errors: 0, garbage: 0, queue_full: 0, reconnects: 0, last_error: null,
        }];
      }
    });
  }

  removePortRole(identity: string): Promise<void> {
    return this.host.reply('remove_port_role', { identity }, () => {
      this.acting((u) => this.host.mayEditMasterData(u), this.say('修改基础数据', 'edit master data'));
      this.roles = this.roles.filter((r) => r.identity !== identity);
      this.states = this.states.filter((s) => s.identity !== identity);
    });
  }

  addSensor(sensor: SensorConfig): Promise<string> {
    return this.host.reply('add_sensor', { sensor }, () => {
      this.acting((u) => this.host.mayEditMasterData(u), this.say('修改基础数据', 'edit master data'));
      this.unit(sensor.location);
      if (sensor.protocol === 'modbus-rtu' && !(sensor.slave >= 1 && sensor.slave <= 247)) {
        this.host.fail('invalid_device_setting', `设备设置 slave 无效：${sensor.slave} 不在 1–247。`, `Invalid device setting slave: ${sensor.slave} is not 1–247.`);
      }
      this.sensors.push({ ...sensor });
      return `sensor-${this.sensors.length}`;
    });
  }

  deviceStates() { return this.host.reply('device_states', null, () => this.states); }
  pendingSerialScans() { return this.host.reply('pending_serial_scans', null, () => this.pending); }
  acknowledgeSerialScans(seq: number) {
    return this.host.reply('acknowledge_serial_scans', { seq }, () => { this.pending = this.pending.filter((s) => s.seq > seq); });
  }
  pollNow() { return this.host.reply('poll_now', null, () => undefined); }

  coldUnits(): Promise<ColdUnitView[]> {
    return this.host.reply('cold_units', null, () => UNITS.map((u): ColdUnitView => {
      const open = this.list.find((x) => x.location === u.code && x.status === 'open') ?? null;
      return {
        code: u.code, name: u.name, name_en: u.name_en, min_c: u.min, max_c: u.max,
        rules: { excursion_minutes: u.excursion, missing_minutes: 60, gate_minutes: u.gate },
        latest: (this.series.get(u.code) ?? []).slice().sort((a, b) => a.at_ms - b.at_ms).at(-1) ?? null,
        sensors: this.sensors.filter((s) => s.location === u.code).length,
        open_excursion: open, ...this.stockOf(u.code),
      };
    }));
  }

  /** Filled in by FakeBackend: the unit's available and quarantined units. */
  stockOf: (location: string) => { available_units: number; quarantined_units: number } = () => ({ available_units: 0, quarantined_units: 0 });

  readings(location: string, hours: number): Promise<ReadingView[]> {
    return this.host.reply('readings', { location, hours }, () => {
      this.unit(location);
      const since = this.host.nowMs() - Math.min(Math.max(hours, 1), 24 * 400) * 60 * MINUTE;
      return (this.series.get(location) ?? []).filter((r) => r.at_ms >= since).sort((a, b) => a.at_ms - b.at_ms);
    });
  }

  excursions(all: boolean) { return this.host.reply('excursions', { all }, () => this.list.filter((x) => all || x.status === 'open')); }

  resolveExcursion(id: string, reason: string, scrap: boolean): Promise<ExcursionView> {
    return this.host.reply('resolve_excursion', { id, reason, scrap }, () => {
      const excursion = this.list.find((x) => x.id === id);
      if (!excursion) this.host.fail('unknown_excursion', `没有温度超标记录 ${id}。`, `There is no excursion ${id}.`);
      if (!reason.trim()) this.host.fail('invalid_input', 'reason 无效：请说明放行或报废的原因。', 'Invalid reason: say why the stock is released or scrapped.');
      const user = this.acting((u) => this.host.mayResolveExcursions(u), this.say('解除隔离', 'release_quarantine'));
      if (excursion.status !== 'open') this.host.fail('excursion_closed', `温度超标 ${id} 已处理。`, `Excursion ${id} has already been resolved.`);
      this.host.release(excursion.location, scrap, reason.trim());
      Object.assign(excursion, { status: scrap ? 'scrapped' : 'released', resolved_by: user.username, resolution_reason: reason.trim() });
      return excursion;
    });
  }

  recordManualReading(location: string, temperatureC: number): Promise<void> {
    return this.host.reply('record_manual_reading', { location, temperatureC }, () => {
      this.acting(() => true, '');
      this.unit(location);
      if (!Number.isFinite(temperatureC) || temperatureC < -100 || temperatureC > 100) {
        this.host.fail('invalid_input', `temperature 无效：${temperatureC} °C 不是温度计的读数。`, `Invalid temperature: ${temperatureC} °C is not a thermometer's reading.`);
      }
      const series = this.series.get(location) ?? [];
      series.push({ at_ms: this.host.nowMs(), temperature_c: temperatureC, humidity_pct: null, source: 'manual' });
      this.series.set(location, series);
    });
  }

  importLoggerReadings(location: string, text: string, utcOffsetMinutes: number, onProgress: (progress: ImportProgress) => void): Promise<number> {
    return this.host.reply('import_logger_readings', { location, utcOffsetMinutes }, () => {
      this.acting(() => true, '');
      this.unit(location);
      const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      const parsed: ReadingView[] = [];
      lines.forEach((line, index) => {
        const [time, temperature] = line.split(/[,;\t]/).map((f) => f.trim());
        const at = Date.parse(`${time.replace(' ', 'T')}Z`) - utcOffsetMinutes * MINUTE;
        const t = Number(temperature);
        if (Number.isNaN(at) || temperature === undefined || Number.isNaN(t)) {
          if (index === 0) return;
          this.host.fail('import_line', `第 ${index + 1} 行：'${line}' 不是 时间,温度[,湿度]。`, `Line ${index + 1}: '${line}' is not time,temperature[,humidity].`);
        }
        parsed.push({ at_ms: at, temperature_c: t, humidity_pct: null, source: 'logger' });
      });
      if (parsed.length === 0) this.host.fail('empty_document', '文件中没有读数。', 'The file holds no readings.');
      onProgress({ stage: 'recording', done: parsed.length, total: lines.length });
      this.series.set(location, [...(this.series.get(location) ?? []), ...parsed]);
      return parsed.length;
    });
  }

  onSerialScan(handler: (scan: SerialScan) => void) { this.scanHandlers.add(handler); return () => { this.scanHandlers.delete(handler); }; }
  onDeviceState(handler: (state: DeviceState) => void) { this.stateHandlers.add(handler); return () => { this.stateHandlers.delete(handler); }; }
  onColdchain(handler: (update: ColdchainUpdate) => void) { this.coldHandlers.add(handler); return () => { this.coldHandlers.delete(handler); }; }
}
