// The shell: who is working, the language, navigation (Alt+1..9) and the
// current screen. Errors from any screen land in one dismissable banner;
// `no_user` sends the clerk back to the chooser. Scans are recognised here,
// wherever the focus is, and go to the screen that takes them (receive,
// issue, stocktake); what came of each shows in the scan banner, with a flash and a sound.
// Serial scanners' scans (the app's serial-scan event) go the same way. An open
// cold-chain excursion shows as an alarm on every screen, with a sound.
// The sync status sits in the top bar on every screen (sync.tsx); after a
// round that pulled other workstations' events, what the shell shows is read again.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ApiError } from './bindings/ApiError';
import type { AppInfo } from './bindings/AppInfo';
import type { Lang } from './bindings/Lang';
import type { UserView } from './bindings/UserView';
import { asApiError, useBackend } from './api/backend';
import { ErrorBanner, Spinner } from './components';
import { LangContext, ROLE_TEXT, translator, useI18n, type TextKey } from './i18n';
import { routeSerialScans, SCAN_EVENT, ScanBanner, ScanContext, type ScanReport } from './scan';
import { installScanner } from './scanner';
import { playTone } from './sound';
import { StockScreen } from './screens/Stock';
import { ReceiveScreen } from './screens/Receive';
import { IssueScreen } from './screens/Issue';
import { TransferScreen } from './screens/Transfer';
import { MovementsScreen } from './screens/Movements';
import { StocktakeScreen } from './screens/Stocktake';
import { PrintersScreen } from './screens/Printers';
import { PRINTERS_NAV_KEY } from './printing';
import { ColdChainScreen } from './screens/ColdChain';
import { DevicesScreen } from './screens/Devices';
import { ColdchainAlarm } from './coldchain';
import { openExcursions } from './coldchainRules';
import type { ExcursionView } from './bindings/ExcursionView';
import { SyncScreen } from './screens/Sync';
import { SyncProgressStrip, SyncStatusArea, SyncStore } from './sync';

export type Screen = 'stock' | 'receive' | 'issue' | 'transfer' | 'movements' | 'stocktake' | 'printers' | 'coldchain' | 'devices' | 'sync';
export const SCREENS: { id: Screen; label: TextKey; icon: string; key: string }[] = [
  { id: 'stock', label: 'navStock', icon: '▦', key: '1' },
  { id: 'receive', label: 'navReceive', icon: '⤓', key: '2' },
  { id: 'issue', label: 'navIssue', icon: '⤒', key: '3' },
  { id: 'transfer', label: 'navTransfer', icon: '⇄', key: '4' },
  { id: 'movements', label: 'navMovements', icon: '☰', key: '5' },
  { id: 'stocktake', label: 'navStocktake', icon: '☑', key: '6' },
  { id: 'printers', label: 'navPrinters', icon: '⎙', key: PRINTERS_NAV_KEY },
  { id: 'coldchain', label: 'navColdchain', icon: '❄', key: '8' },
  { id: 'devices', label: 'navDevices', icon: '⌁', key: '9' },
  { id: 'sync', label: 'navSync', icon: '⇅', key: '0' },
];

function UserChooser({ users, loading, onChoose, onCancel }: { users: UserView[]; loading: boolean; onChoose: (username: string) => void; onCancel?: () => void }) {
  const { t } = useI18n();
  return (
    <main className="chooser" aria-labelledby="chooser-title">
      <h1 id="chooser-title">{t('whoIsWorking')}</h1>
      <p className="muted">{t('whoIsWorkingHint')}</p>
      {loading ? <Spinner /> : null}
      <div className="user-grid" role="list">
        {users.map((u, index) => (
          <button
            key={u.username}
            type="button"
            role="listitem"
            className="user-card"
            autoFocus={index === 0}
            data-testid={`user-option-${u.username}`}
            onClick={() => onChoose(u.username)}
          >
            <span className="avatar" aria-hidden="true">{u.display_name.slice(0, 1)}</span>
            <span className="user-text">
              <strong>{u.display_name}</strong>
              <span className="muted">{u.username} · {t(ROLE_TEXT[u.role])}</span>
            </span>
          </button>
        ))}
      </div>
      {onCancel ? <button type="button" className="chooser-cancel" data-testid="chooser-cancel" onClick={onCancel}>{t('cancel')}</button> : null}
    </main>
  );
}

/** `scanKeyTime`: when each key went down, for the scan detector (tests pass a steady clock; default: the event's time). */
export function App({ scanKeyTime }: { scanKeyTime?: (event: KeyboardEvent) => number } = {}) {
  const backend = useBackend();
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [users, setUsers] = useState<UserView[]>([]);
  const [usersLoading, setUsersLoading] = useState(true);
  const [lang, setLang] = useState<Lang>('zh');
  const [screen, setScreen] = useState<Screen>('stock');
  const [error, setError] = useState<ApiError | null>(null);
  const [choosing, setChoosing] = useState(false);
  const t = useMemo(() => translator(lang), [lang]);
  const scanHandler = useRef<((data: string) => void) | null>(null);
  const [scanReport, setScanReport] = useState<{ report: ScanReport; seq: number } | null>(null);
  const scanContext = useMemo(() => ({
    register: (handler: (data: string) => void) => {
      scanHandler.current = handler;
      return () => { if (scanHandler.current === handler) scanHandler.current = null; };
    },
    report: (report: ScanReport) => {
      playTone(report.outcome);
      setScanReport((current) => ({ report, seq: (current?.seq ?? 0) + 1 }));
    },
    clear: () => setScanReport(null),
  }), []);

  // One detector for the whole app. A scan goes to the current screen's
  // handler on the next turn, once the field it typed into has been put back.
  useEffect(() => installScanner(window, {
    claims: () => scanHandler.current !== null,
    onScan: (data) => {
      window.dispatchEvent(new Event(SCAN_EVENT));
      setTimeout(() => scanHandler.current?.(data), 0);
    },
    timeOf: scanKeyTime,
  }), [scanKeyTime]);

  // Serial scanners' scans take the same road as a wedge scan: to the screen that takes scans.
  const tNow = useRef(t);
  useEffect(() => { tNow.current = t; }, [t]);
  useEffect(() => routeSerialScans(backend, (scan) => {
    const t = tNow.current;
    window.dispatchEvent(new Event(SCAN_EVENT));
    const handler = scanHandler.current;
    if (handler) handler(scan.data);
    else scanContext.report({ outcome: 'warning', message: t('scanNoTaker', { data: scan.data }), details: [] });
  }), [backend, scanContext]);

  // A scanner whose scans had to wait: the clerk is told (none is lost).
  const queueWaits = useRef(new Map<string, number>());
  useEffect(() => backend.onDeviceState((state) => {
    const before = queueWaits.current.get(state.identity) ?? 0;
    queueWaits.current.set(state.identity, state.queue_full);
    if (state.role === 'scanner' && state.queue_full > before) {
      scanContext.report({ outcome: 'warning', message: tNow.current('scanQueueFull', { port: state.path, count: state.queue_full }), details: [] });
    }
  }), [backend, scanContext]);

  // Open excursions: an alarm on every screen, with a sound when a new one opens.
  const [excursions, setExcursions] = useState<ExcursionView[]>([]);
  const known = useRef(new Set<string>());
  const loadExcursions = useCallback(() => {
    backend.excursions(false).then((list) => {
      const open = openExcursions(list);
      if (open.some((x) => !known.current.has(x.id))) playTone('failure');
      known.current = new Set(open.map((x) => x.id));
      setExcursions(open);
    }, () => undefined);
  }, [backend]);
  useEffect(() => { loadExcursions(); return backend.onColdchain(() => loadExcursions()); }, [backend, loadExcursions]);

  const reload = useCallback(async () => {
    try {
      const next = await backend.appInfo();
      setInfo(next);
      setLang(next.language);
    } catch (e) {
      setError(asApiError(e));
    }
  }, [backend]);

  // Each navigation re-reads app_info, so expiry colours follow the workstation's date past midnight.
  const go = useCallback((next: Screen) => { setScreen(next); setError(null); setScanReport(null); void reload(); loadExcursions(); }, [reload, loadExcursions]);

  const signedIn = !!info?.user && !choosing;
  // The sync status lives outside React's state here: only what shows it re-renders.
  const syncStore = useMemo(() => new SyncStore(backend), [backend]);
  useEffect(() => syncStore.start(), [syncStore]);
  const ready = !!info;
  useEffect(() => { if (ready) syncStore.refresh(); }, [syncStore, ready, lang]);
  // Other workstations' events arrived: the shell's facts and the alarm may have changed (screens re-read their own).
  useEffect(() => backend.onSyncApplied(() => { void reload(); loadExcursions(); }), [backend, reload, loadExcursions]);

  useEffect(() => {
    void reload();
    backend.listUsers().then(setUsers, (e) => setError(asApiError(e))).finally(() => setUsersLoading(false));
  }, [backend, reload]);

  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('appTitle');
  }, [lang, t]);

  useEffect(() => {
    if (!signedIn) return;
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      // e.code keeps working when Alt+digit produces another character (macOS layouts).
      const digit = e.code.startsWith('Digit') ? e.code.slice(5) : e.key;
      const target = SCREENS.find((s) => s.key === digit);
      if (target) { e.preventDefault(); go(target.id); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [signedIn, go]);

  const choose = async (username: string) => {
    try {
      const user = await backend.chooseUser(username);
      syncStore.refresh();
      setLang(user.language);
      setChoosing(false);
      setError(null);
      setScreen('stock');
      await reload();
    } catch (e) {
      setError(asApiError(e));
    }
  };

  const toggleLanguage = async () => {
    const next: Lang = lang === 'zh' ? 'en' : 'zh';
    setLang(next);
    try {
      await backend.setLanguage(next);
      syncStore.refresh();
    } catch (e) {
      setError(asApiError(e));
    }
  };

  const onError = useCallback((e: unknown) => {
    const apiError = asApiError(e);
    if (apiError.code === 'no_user') setChoosing(true);
    setError(apiError);
  }, []);
  const clearError = useCallback(() => setError(null), []);

  const banner = <ErrorBanner error={error} onDismiss={clearError} />;
  const clearScanReport = useCallback(() => setScanReport(null), []);
  const user = info?.user ?? null;

  return (
    <LangContext.Provider value={{ lang, t }}>
      <ScanContext.Provider value={scanContext}>
        <div className="app">
          <header className="topbar">
            <div className="brand">
              <span className="brand-mark" aria-hidden="true">✚</span>
              <span>MedLedger</span>
              <span className="brand-sub">{t('brandSub')}</span>
            </div>
            <div className="topbar-info">
              {info ? <SyncStatusArea store={syncStore} onOpen={signedIn ? () => go('sync') : undefined} /> : null}
              {info ? <span className="site" data-testid="site-code" title={info.node.name}>{t('site')} <b>{info.node.site_code}</b></span> : null}
              {info ? <span className="today" title={t('today')}>{info.today}</span> : null}
              {user ? (
                <span className="current-user" data-testid="current-user">
                  {user.display_name} <span className="role">{t(ROLE_TEXT[user.role])}</span>
                </span>
              ) : null}
              {user && !choosing ? (
                <button type="button" className="ghost" data-testid="switch-user" onClick={() => { setChoosing(true); setError(null); }}>
                  {t('switchUser')}
                </button>
              ) : null}
              <button type="button" className="ghost lang" data-testid="lang-toggle" onClick={() => void toggleLanguage()} title={t('languageTitle')}>
                {t('otherLanguage')}
              </button>
            </div>
          </header>
          {screen !== 'sync' ? <SyncProgressStrip store={syncStore} /> : null}
          {!info ? (
            <main className="center">{banner}<Spinner /></main>
          ) : !signedIn ? (
            <>
              <div className="chooser-banner">{banner}</div>
              <UserChooser users={users} loading={usersLoading} onChoose={(u) => void choose(u)} onCancel={user && choosing ? () => setChoosing(false) : undefined} />
            </>
          ) : (
            <div className="body">
              <nav className="sidebar" aria-label={t('navigation')}>
                {SCREENS.map((s) => (
                  <button
                    key={s.id}
                    type="button"
                    data-testid={`nav-${s.id}`}
                    className={screen === s.id ? 'nav active' : 'nav'}
                    aria-current={screen === s.id ? 'page' : undefined}
                    title={`${t(s.label)} (Alt+${s.key})`}
                    onClick={() => go(s.id)}
                  >
                    <span className="nav-icon" aria-hidden="true">{s.icon}</span>
                    <span className="nav-label">
                      {t(s.label)}
                      {s.id === 'coldchain' && excursions.length > 0 ? <span className="nav-badge" data-testid="nav-coldchain-alarm">{excursions.length}</span> : null}
                    </span>
                    <kbd>Alt+{s.key}</kbd>
                  </button>
                ))}
                <div className="sidebar-foot muted">
                  <div>{info.node.name || info.node.site_code}</div>
                  <div>v{info.version}</div>
                </div>
              </nav>
              <main className="content">
                {banner}
                <ColdchainAlarm excursions={excursions} onOpen={() => go('coldchain')} />
                <ScanBanner report={scanReport?.report ?? null} seq={scanReport?.seq ?? 0} onDismiss={clearScanReport} />
                {screen === 'stock' && <StockScreen today={info.today} onError={onError} />}
                {screen === 'receive' && <ReceiveScreen today={info.today} mayCreateItems={info.may_edit_master_data} onError={onError} clearError={clearError} />}
                {screen === 'issue' && <IssueScreen onError={onError} clearError={clearError} />}
                {screen === 'transfer' && <TransferScreen onError={onError} clearError={clearError} />}
                {screen === 'movements' && <MovementsScreen onError={onError} />}
                {screen === 'stocktake' && <StocktakeScreen mayReview={info.may_review_stocktakes} onError={onError} clearError={clearError} />}
                {screen === 'printers' && <PrintersScreen mayEdit={info.may_edit_master_data} onError={onError} />}
                {screen === 'coldchain' && <ColdChainScreen mayResolve={info.may_resolve_excursions} onError={onError} clearError={clearError} onResolved={loadExcursions} />}
                {screen === 'devices' && <DevicesScreen mayEdit={info.may_edit_master_data} onError={onError} />}
                {screen === 'sync' && <SyncScreen store={syncStore} mayEnrol={info.may_enrol_workstation} onGo={go} onError={onError} />}
              </main>
            </div>
          )}
        </div>
      </ScanContext.Provider>
    </LangContext.Provider>
  );
}
