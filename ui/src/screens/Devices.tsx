// 设备: each device's state (connected / disconnected / reconnecting, its
// last scan or reading, error counters) as the app's device-state events
// report it, and the serial ports with their USB identity, where who may
// edit master data gives a port its role — a scanner (baud, terminator,
// prefix) or a thermometer bus (its sensors belong to cold units).
import { useCallback, useEffect, useState } from 'react';
import type { ColdUnitView } from '../bindings/ColdUnitView';
import type { Connection } from '../bindings/Connection';
import type { DeviceState } from '../bindings/DeviceState';
import type { PortRole } from '../bindings/PortRole';
import type { SerialPortView } from '../bindings/SerialPortView';
import { useBackend } from '../api/backend';
import { Spinner } from '../components';
import { formatTime } from '../coldchainRules';
import { useI18n, type TextKey } from '../i18n';

const CONNECTION_TEXT: Record<Connection, TextKey> = { connected: 'connConnected', disconnected: 'connDisconnected', reconnecting: 'connReconnecting' };
const BAUDS = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400];

/** Merges one device's new state into the list (by identity). */
export function mergeState(states: DeviceState[], next: DeviceState): DeviceState[] {
  const found = states.some((s) => s.identity === next.identity);
  return found ? states.map((s) => (s.identity === next.identity ? next : s)) : [...states, next];
}

function PortEditor({ port, mayEdit, units, onSaved, onError }: {
  port: SerialPortView; mayEdit: boolean; units: ColdUnitView[]; onSaved: (text: string) => void; onError: (e: unknown) => void;
}) {
  const backend = useBackend();
  const { t } = useI18n();
  const [role, setRole] = useState(port.role?.role ?? '');
  const [baud, setBaud] = useState(port.role?.baud ?? 9600);
  const [terminator, setTerminator] = useState(port.role?.terminator ?? 'cr');
  const [prefix, setPrefix] = useState(port.role?.prefix ?? '');
  const [unit, setUnit] = useState(units[0]?.code ?? '');
  const [slave, setSlave] = useState('1');
  const id = port.identity.replace(/[^A-Za-z0-9]/g, '_');
  const save = async () => {
    try {
      if (!role) {
        if (port.role) await backend.removePortRole(port.identity);
      } else {
        const next: PortRole = { identity: port.identity, path: port.path, role, baud, terminator, prefix, description: port.product ?? '' };
        await backend.setPortRole(next);
      }
      onSaved(t('portSaved', { path: port.path }));
    } catch (error) {
      onError(error);
    }
  };
  const addSensor = async () => {
    try {
      await backend.addSensor({ location: unit, port: port.path, protocol: 'modbus-rtu', slave: Number(slave), model: 'xy-md02', baud, pattern: '' });
      onSaved(t('sensorAdded', { location: unit }));
    } catch (error) {
      onError(error);
    }
  };
  return (
    <tr data-testid={`port-${id}`} data-role={port.role?.role ?? ''}>
      <td className="mono">{port.path}{port.kind === 'absent' ? <span className="badge"> {t('portAbsent')}</span> : null}</td>
      <td>{[port.manufacturer, port.product].filter(Boolean).join(' ') || port.kind}<div className="muted mono small">{port.identity}</div>
        {port.sensors.length > 0 ? <div className="muted small">{t('portSensors', { list: port.sensors.map((s) => `${s.location}#${s.slave}`).join(', ') })}</div> : null}</td>
      <td>
        <select data-testid={`port-role-${id}`} value={role} disabled={!mayEdit} onChange={(e) => setRole(e.target.value)} aria-label={t('portRole')}>
          <option value="">{t('roleNone')}</option>
          <option value="scanner">{t('roleScanner')}</option>
          <option value="thermometer">{t('roleThermometer')}</option>
        </select>
      </td>
      <td>
        <select value={baud} disabled={!mayEdit || !role} onChange={(e) => setBaud(Number(e.target.value))} aria-label={t('portBaud')}>
          {BAUDS.map((b) => <option key={b} value={b}>{b}</option>)}
        </select>
      </td>
      <td>
        {role === 'scanner' ? (
          <span className="row">
            <select value={terminator} disabled={!mayEdit} onChange={(e) => setTerminator(e.target.value)} aria-label={t('portTerminator')}>
              <option value="cr">CR</option><option value="lf">LF</option><option value="crlf">CR/LF</option><option value="tab">Tab</option>
            </select>
            <input className="narrow" value={prefix} disabled={!mayEdit} placeholder={t('portPrefix')} aria-label={t('portPrefix')} onChange={(e) => setPrefix(e.target.value)} />
          </span>
        ) : role === 'thermometer' && mayEdit && units.length > 0 ? (
          <span className="row">
            <select value={unit} onChange={(e) => setUnit(e.target.value)} aria-label={t('sensorUnit')}>{units.map((u) => <option key={u.code} value={u.code}>{u.code}</option>)}</select>
            <input className="narrow num" value={slave} onChange={(e) => setSlave(e.target.value)} aria-label={t('sensorSlave')} title={t('sensorSlave')} />
            <button type="button" data-testid={`sensor-add-${id}`} onClick={() => void addSensor()}>{t('sensorAdd')}</button>
          </span>
        ) : null}
      </td>
      <td>{mayEdit ? <button type="button" className="primary" data-testid={`port-save-${id}`} onClick={() => void save()}>{t('portSave')}</button> : null}</td>
    </tr>
  );
}

export function DevicesScreen({ mayEdit, onError }: { mayEdit: boolean; onError: (e: unknown) => void }) {
  const backend = useBackend();
  const { t } = useI18n();
  const [states, setStates] = useState<DeviceState[] | null>(null);
  const [ports, setPorts] = useState<SerialPortView[] | null>(null);
  const [units, setUnits] = useState<ColdUnitView[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const load = useCallback(() => {
    backend.deviceStates().then(setStates, onError);
    backend.serialPorts().then(setPorts, onError);
    backend.coldUnits().then(setUnits, onError);
  }, [backend, onError]);
  useEffect(() => { load(); }, [load]);
  useEffect(() => backend.onDeviceState((next) => setStates((all) => mergeState(all ?? [], next))), [backend]);
  return (
    <section className="screen" aria-labelledby="devices-title">
      <div className="screen-head"><h1 id="devices-title">{t('devicesTitle')}</h1><span className="muted">{t('devicesIntro')}</span></div>
      {notice ? <p className="notice" role="status" data-testid="devices-notice">{notice}</p> : null}
      <h2>{t('devicesState')}</h2>
      {states === null ? <Spinner /> : states.length === 0 ? <p className="muted">{t('noDevices')}</p> : (
        <table className="table" data-testid="device-states">
          <thead><tr>
            <th>{t('portDevice')}</th><th>{t('portPath')}</th><th>{t('portRole')}</th><th>{t('deviceLast')}</th><th className="num">{t('deviceCount')}</th>
            <th className="num">{t('deviceTimeouts')}</th><th className="num">{t('deviceCrc')}</th><th className="num">{t('deviceGarbage')}</th>
            <th className="num">{t('deviceQueueFull')}</th><th className="num">{t('deviceReconnects')}</th>
          </tr></thead>
          <tbody>
            {states.map((s) => (
              <tr key={s.identity} data-testid="device-state" data-path={s.path} data-connection={s.connection}>
                <td><span className={`status-dot status-${s.connection}`} aria-hidden="true" /> {t(CONNECTION_TEXT[s.connection])}
                  {s.last_error ? <div className="field-error small">{s.last_error}</div> : null}</td>
                <td className="mono">{s.path}<div className="muted small">{s.description}</div></td>
                <td>{t(s.role === 'scanner' ? 'roleScanner' : 'roleThermometer')}</td>
                <td>{s.role === 'scanner' ? <span className="mono">{s.last_scan ?? '—'}</span> : s.last_reading_c !== null ? `${s.last_reading_c.toFixed(1)} °C` : '—'}
                  {s.last_activity_ms !== null ? <div className="muted small">{formatTime(s.last_activity_ms)}</div> : null}</td>
                <td className="num">{s.count}</td><td className="num">{s.timeouts}</td><td className="num">{s.crc_errors}</td>
                <td className="num">{s.garbage}</td><td className={s.queue_full > 0 ? 'num field-error' : 'num'}>{s.queue_full}</td><td className="num">{s.reconnects}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>{t('portsTitle')}</h2>
      {!mayEdit ? <p className="muted">{t('portsReadOnly')}</p> : null}
      {ports === null ? <Spinner /> : ports.length === 0 ? <p className="muted">{t('portsEmpty')}</p> : (
        <table className="table" data-testid="serial-ports">
          <thead><tr><th>{t('portPath')}</th><th>{t('portDevice')}</th><th>{t('portRole')}</th><th>{t('portBaud')}</th><th /><th /></tr></thead>
          <tbody>
            {ports.map((p) => (
              <PortEditor key={`${p.identity}-${p.role?.role ?? ''}`} port={p} mayEdit={mayEdit} units={units} onError={onError}
                onSaved={(text) => { setNotice(text); load(); }} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
