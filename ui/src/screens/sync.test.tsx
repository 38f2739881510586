import { describe, expect, it } from 'vitest';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import { openScreen, signedIn } from '../test/render';
import { FAKE_ENROLMENT_CODE, FAKE_HOSPITAL_CA } from '../api/fakeSync';
import type { FakeBackend } from '../api/fake';
import { LangContext, translator } from '../i18n';
import { SyncProgressBar, SyncStatusBadge, type SyncState } from '../sync';
import type { SyncStatusView } from '../bindings/SyncStatusView';

const SYRINGE = '09506000134352';

async function enrol(app: Awaited<ReturnType<typeof signedIn>>, url = 'https://server.hospital:8443', code = FAKE_ENROLMENT_CODE) {
  const { user } = app;
  await user.clear(screen.getByTestId('sync-enrol-url'));
  await user.type(screen.getByTestId('sync-enrol-url'), url);
  await user.clear(screen.getByTestId('sync-enrol-code'));
  await user.type(screen.getByTestId('sync-enrol-code'), `${code}{Enter}`);
}

function receiveHere(backend: FakeBackend, lot: string, quantity: number) {
  return backend.postDocument({
    kind: 'receipt', user: '', location: 'MAIN', to_location: null, department: null, supplier: null, note: '', override: null,
    lines: [{ item: SYRINGE, lot, expiry: '2029-01-31', production_date: null, serial: null, quantity, unit_cost: null }],
  });
}

describe('the sync status area and screen', () => {
  it('shows no server until a manager enrols the workstation on the sync screen (Alt+0); a clerk may not', async () => {
    const app = await signedIn('alice');
    expect((await screen.findByTestId('sync-status')).dataset.tone).toBe('off');
    expect(screen.getByTestId('sync-status-text').textContent).toBe('No server');
    await app.user.keyboard('{Alt>}0{/Alt}');
    expect(screen.getByTestId('nav-sync').getAttribute('aria-current')).toBe('page');
    expect((await screen.findByTestId('sync-enrol-forbidden')).textContent).toContain('Only users who may edit master data');
    expect(screen.queryByTestId('sync-enrol')).toBeNull();
  });

  it('enrols with a server address and a one-time code, refusing bad ones in plain words, then syncs', async () => {
    const app = await signedIn('zhaoqiang');
    await app.user.click(await screen.findByTestId('sync-status'));
    await screen.findByTestId('sync-enrol');
    await app.user.click(screen.getByTestId('sync-enrol-submit'));
    expect(screen.getByTestId('sync-enrol').textContent).toContain('请填写服务器地址和注册码');
    await enrol(app, 'http://192.168.1.20:8470');
    expect((await screen.findByTestId('error-banner')).dataset.code).toBe('insecure_url');
    expect(screen.getByTestId('error-banner').textContent).toContain('明文 http 只允许连接本机');
    await enrol(app, 'https://server.hospital:8443', '1234');
    await waitFor(() => expect(screen.getByTestId('error-banner').dataset.code).toBe('bad_enrolment_code'));
    expect(screen.getByTestId('error-banner').textContent).toContain('注册码无效');
    await enrol(app);
    expect((await screen.findByTestId('sync-notice')).textContent).toContain('https://server.hospital:8443');
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    expect(screen.getByTestId('sync-status-text').textContent).toBe('已同步 · 刚刚');
    expect(screen.getByTestId('sync-server').textContent).toBe('https://server.hospital:8443');
    expect(screen.getByTestId('sync-pending').textContent).toBe('0');
    expect((await screen.findByTestId('sync-review-empty')).textContent).toBe('没有需要处理的事项。');
    // The code is used up.
    expect(app.backend.calls.filter((c) => c.command === 'enrol_workstation')).toHaveLength(3);
  });

  it('says offline in plain words while the server is away, keeps the work pending, and catches up when it is back', async () => {
    const app = await signedIn('zhaoqiang');
    await openScreen(app.user, 'sync');
    await enrol(app);
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    app.backend.sync.offline = true;
    await act(async () => { await receiveHere(app.backend, 'OFF1', 10); });
    await app.user.click(screen.getByTestId('sync-now'));
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('offline'));
    expect(screen.getByTestId('sync-status-text').textContent).toBe('离线 · 上次同步 刚刚');
    expect(screen.getByTestId('sync-status-pending').textContent).toBe('待上传 1');
    expect(screen.getByTestId('sync-error').textContent).toContain('本机照常记账，网络恢复后会自动同步');
    expect(screen.getByTestId('sync-status').getAttribute('title')).toContain('连不上医院服务器');
    // The session language changes: the words follow.
    await app.user.click(screen.getByTestId('lang-toggle'));
    await waitFor(() => expect(screen.getByTestId('sync-error').textContent).toContain('cannot be reached'));
    expect(screen.getByTestId('sync-status-text').textContent).toBe('Offline · last synced just now');
    // Back: the next round sends what waited.
    app.backend.sync.offline = false;
    await act(async () => { await app.backend.sync.round(); });
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    expect(screen.queryByTestId('sync-status-pending')).toBeNull();
    expect(screen.queryByTestId('sync-error')).toBeNull();
    expect(screen.getByTestId('sync-last-round').textContent).toMatch(/last exchange \d\d:\d\d:\d\d: 1 sent, 0 received/);
  });

  it('says a revoked workstation may not sync, and a manager enrols it again with a new code', async () => {
    const app = await signedIn('zhaoqiang');
    await openScreen(app.user, 'sync');
    await enrol(app);
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    app.backend.sync.revoke();
    await app.user.click(screen.getByTestId('sync-now'));
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('error'));
    expect(screen.getByTestId('sync-status-text').textContent).toBe('同步失败');
    expect(screen.getByTestId('sync-error').dataset.code).toBe('revoked');
    expect(screen.getByTestId('sync-error').textContent).toContain('本机已被服务器停用');
    // The used code is refused; a new one enrols it again.
    await enrol(app);
    await waitFor(() => expect(screen.getByTestId('error-banner').dataset.code).toBe('bad_enrolment_code'));
    await enrol(app, 'https://server.hospital:8443', app.backend.sync.newCode());
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    expect(screen.queryByTestId('sync-error')).toBeNull();
    expect(screen.queryByTestId('sync-enrol')).toBeNull();
  });

  it('enrols trusting the hospital CA picked as a file, refusing a key in its place at the file, and replaces the CA without enrolling again', async () => {
    const app = await signedIn('zhaoqiang');
    app.backend.sync.serverCa = FAKE_HOSPITAL_CA;
    await openScreen(app.user, 'sync');
    await screen.findByTestId('sync-enrol');
    const pem = (name: string, text: string) => new File([text], name, { type: 'application/x-pem-file' });
    // Without the CA: the server's certificate is not trusted, and the words send IT's file here.
    await enrol(app);
    await waitFor(() => expect(screen.getByTestId('error-banner').dataset.code).toBe('certificate_untrusted'));
    expect(screen.getByTestId('error-banner').textContent).toContain('“医院 CA 证书”处添加');
    // A private key is refused at the file, in plain words; nothing is enrolled.
    await app.user.upload(screen.getByTestId('sync-enrol-ca'), pem('server-key.pem', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n'));
    expect(screen.getByTestId('sync-enrol-ca-name').textContent).toBe('server-key.pem');
    await enrol(app);
    expect((await screen.findByTestId('sync-enrol-ca-error')).textContent).toContain('私钥不能离开服务器');
    expect((await app.backend.syncStatus()).enrolled).toBe(false);
    // An empty file is refused before it is read.
    await app.user.upload(screen.getByTestId('sync-enrol-ca'), pem('empty.pem', ''));
    expect(screen.getByTestId('sync-enrol-ca-error').textContent).toBe('文件 empty.pem 是空的，不是 CA 证书。请向信息科要医院的 CA 证书。');
    expect(screen.queryByTestId('sync-enrol-ca-name')).toBeNull();
    // The hospital's CA: enrolled, and the card says what it trusts.
    await app.user.upload(screen.getByTestId('sync-enrol-ca'), pem('hospital-ca.pem', `${FAKE_HOSPITAL_CA}\n`));
    expect(screen.queryByTestId('sync-enrol-ca-error')).toBeNull();
    await enrol(app);
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    const enrolment = app.backend.calls.filter((c) => c.command === 'enrol_workstation').at(-1)!;
    expect(enrolment.args).toMatchObject({ ca: { name: 'hospital-ca.pem', text: `${FAKE_HOSPITAL_CA}\n` } });
    expect(screen.getByTestId('sync-trust').dataset.trust).toBe('hospital_ca');
    expect(screen.getByTestId('sync-trust').textContent).toBe('医院自己的 CA 证书');
    expect(screen.getByTestId('sync-ca').dataset.attention).toBe('false');

    // IT renews the hospital's CA: the old one no longer checks the server, the panel asks for the new file.
    app.backend.sync.serverCa = FAKE_HOSPITAL_CA.replace('MIIB', 'MIIC');
    await app.user.click(screen.getByTestId('sync-now'));
    await waitFor(() => expect(screen.getByTestId('sync-error').dataset.code).toBe('certificate_untrusted'));
    expect(screen.getByTestId('sync-ca').dataset.attention).toBe('true');
    expect(screen.queryByTestId('sync-enrol')).toBeNull();
    await app.user.upload(screen.getByTestId('sync-ca-file'), pem('bundle.pem', `${FAKE_HOSPITAL_CA}\n-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----`));
    expect((await screen.findByTestId('sync-ca-error')).textContent).toContain('例如私钥');
    await app.user.upload(screen.getByTestId('sync-ca-file'), pem('ca-2027.crt', app.backend.sync.serverCa));
    expect((await screen.findByTestId('sync-notice')).textContent).toBe('已使用 CA 证书 ca-2027.crt，正在同步。');
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    expect(screen.queryByTestId('sync-ca-error')).toBeNull();
    expect(app.backend.calls.filter((c) => c.command === 'enrol_workstation')).toHaveLength(3);
  });

  it('takes a CA certificate only with https, and offers adding one to a link that trusts the system', async () => {
    const app = await signedIn('zhaoqiang');
    await openScreen(app.user, 'sync');
    await screen.findByTestId('sync-enrol');
    await app.user.upload(screen.getByTestId('sync-enrol-ca'), new File([FAKE_HOSPITAL_CA], 'ca.pem'));
    await enrol(app, 'http://127.0.0.1:8470');
    expect(screen.getByTestId('sync-enrol-ca-error').textContent).toContain('CA 证书只用于 https://');
    expect(app.backend.calls.filter((c) => c.command === 'enrol_workstation')).toHaveLength(0);
    await app.user.click(screen.getByTestId('sync-enrol-ca-remove'));
    await enrol(app, 'https://server.hospital:8443');
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    expect(screen.getByTestId('sync-trust').textContent).toBe('本机系统信任的证书');
    expect(screen.getByTestId('sync-ca').dataset.trust).toBe('system_roots');
    expect(screen.getByTestId('sync-ca').textContent).toContain('添加医院 CA 证书');
  });

  it('refreshes the stock list when a round pulls another workstation\'s receipt', async () => {
    const app = await signedIn('zhaoqiang');
    await openScreen(app.user, 'sync');
    await enrol(app);
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    await openScreen(app.user, 'stock');
    await screen.findByTestId('stock-summary');
    await waitFor(() => expect(document.querySelector('[data-lot="REMOTE7"]')).toBeNull());
    app.backend.sync.arrive(1, () => app.backend.receivedElsewhere(SYRINGE, 'MAIN', 'REMOTE7', '2029-06-30', 25));
    await act(async () => { await app.backend.sync.round(); });
    await waitFor(() => expect(screen.getByTestId('stock-summary').textContent).toBeTruthy());
    await waitFor(() => expect(document.body.textContent).toContain('REMOTE7'));
  });

  it('says when the workstation\'s database went back and its own records came back from the server, and shows them', async () => {
    const app = await signedIn('zhaoqiang');
    await openScreen(app.user, 'sync');
    await enrol(app);
    await waitFor(() => expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok'));
    expect(screen.queryByTestId('sync-own-back')).toBeNull();
    app.backend.sync.wentBack(3, () => app.backend.receivedElsewhere(SYRINGE, 'MAIN', 'BACK1', '2029-06-30', 12));
    await act(async () => { await app.backend.sync.round(); });
    const banner = await screen.findByTestId('sync-own-back');
    expect(banner.textContent).toContain('本机之前已发给服务器的 3 条记录已取回');
    expect(banner.textContent).toContain('两台电脑不能共用一个工作站身份');
    await openScreen(app.user, 'stock');
    await waitFor(() => expect(document.body.textContent).toContain('BACK1'));
    // It stays through rounds that move nothing, and goes with the next round that moves something.
    await openScreen(app.user, 'sync');
    await act(async () => { await app.backend.sync.round(); });
    expect(screen.getByTestId('sync-own-back')).toBeTruthy();
    await receiveHere(app.backend, 'NEW1', 4);
    await act(async () => { await app.backend.sync.round(); });
    await waitFor(() => expect(screen.queryByTestId('sync-own-back')).toBeNull());
  });

  it('lists what a manager settles: keys below zero with their movements and what to do, conflicts, safety edits, duplicate codes, ambiguous counts, double corrections, far-future movements', async () => {
    const app = await signedIn('alice');
    app.backend.sync.seedReview();
    // Enrolled by someone else earlier.
    app.backend.user = app.backend.users.find((u) => u.username === 'zhaoqiang')!;
    await app.backend.enrolWorkstation('https://server.hospital:8443', FAKE_ENROLMENT_CODE, null);
    app.backend.user = app.backend.users.find((u) => u.username === 'alice')!;
    await openScreen(app.user, 'sync');
    const review = await screen.findByTestId('sync-review');
    await waitFor(() => expect(review.dataset.count).toBe('7'));
    const exception = screen.getByTestId('sync-exception');
    expect(exception.dataset).toMatchObject({ item: SYRINGE, lot: 'L2312', location: 'ICU-STORE', quantity: '-20' });
    const movements = within(exception).getAllByTestId('sync-exception-movement');
    expect(movements.map((m) => m.textContent)).toEqual([
      expect.stringContaining('Issue −50 · CK-S02-000014 · wangli'), expect.stringContaining('Issue −30 · CK-S03-000009 · lihua'),
    ]);
    expect(screen.getByTestId('sync-section-exceptions').textContent).toContain('count the location (stocktake), or correct the issue');
    const conflict = screen.getByTestId('sync-conflict');
    expect(conflict.dataset.kind).toBe('movement');
    expect(conflict.textContent).toContain('"quantity": -5');
    expect(conflict.textContent).toContain('"quantity": -6');
    const safety = screen.getByTestId('sync-safety');
    expect(safety.dataset.field).toBe('max_temp_c');
    expect(within(safety).getByTestId('sync-safety-current').closest('li')!.textContent).toContain('"6.0"');
    expect(screen.getByTestId('sync-duplicate').textContent).toContain('OR-STORE~4c1d09ab');
    const ambiguous = screen.getByTestId('sync-ambiguous');
    expect(ambiguous.dataset).toMatchObject({ item: SYRINGE, lot: 'L2402', location: 'MAIN', counted: '38' });
    expect(within(ambiguous).getByTestId('sync-ambiguous-movement').textContent).toContain('Issue −5 · CK-S03-000011 · 120 s later (taken as after the count)');
    expect(screen.getByTestId('sync-section-ambiguous').textContent).toContain('Count the shelf again');
    expect(screen.getByTestId('sync-double').textContent).toContain('000000d1');
    expect(screen.getByTestId('sync-section-double').textContent).toContain('post one document the other way');
    expect(screen.getByTestId('sync-future').dataset.kind).toBe('receive');
    expect(screen.getByTestId('sync-section-future').textContent).toContain('set that workstation\'s clock right');
    await app.user.click(screen.getByTestId('sync-go-stocktake'));
    expect(screen.getByTestId('nav-stocktake').getAttribute('aria-current')).toBe('page');
  });
});

describe('a long round', () => {
  const base: SyncStatusView = {
    enrolled: true, server_url: 'https://s', trust: 'system_roots', last_success_ms: Date.now() - 60_000, pending: 5000, running: true,
    progress: { phase: 'push', done: 2000, total: 5000 }, error: null, last_round: null, next_attempt_ms: null,
  };
  const state = (status: SyncStatusView, long: boolean): SyncState => ({ status, nowMs: Date.now(), long, refresh: () => undefined });
  const show = (sync: SyncState) => render(
    <LangContext.Provider value={{ lang: 'en', t: translator('en') }}>
      <SyncStatusBadge sync={sync} />
      <SyncProgressBar sync={sync} />
    </LangContext.Provider>,
  );

  it('shows a spinner and a progress bar with how far it is, only once it is long', () => {
    const quick = show(state(base, false));
    expect(screen.getByTestId('sync-status').dataset.tone).toBe('ok');
    expect(screen.queryByTestId('sync-progress-bar')).toBeNull();
    quick.unmount();
    show(state(base, true));
    expect(screen.getByTestId('sync-status').dataset.tone).toBe('running');
    expect(screen.getByTestId('sync-status-text').textContent).toBe('Sending 2,000/5,000');
    const bar = screen.getByTestId('sync-progress-bar');
    expect(bar.getAttribute('aria-valuenow')).toBe('40');
    expect(bar.textContent).toBe('Sending 2,000/5,000');
  });

  it('shows a pull without a known total as a count', () => {
    show(state({ ...base, progress: { phase: 'pull', done: 12000, total: null } }, true));
    const bar = screen.getByTestId('sync-progress-bar');
    expect(bar.getAttribute('aria-valuenow')).toBeNull();
    expect(bar.textContent).toBe('Receiving 12,000');
  });
});
