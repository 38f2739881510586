// The fake's stocktakes imitate crates/ledger/src/stocktake.rs closely enough
// for the screen tests to mean something; these pin the rules it imitates
// (the same as crates/ledger/tests/stocktake.rs, in miniature).
import { beforeEach, describe, expect, it } from 'vitest';
import type { CountEntry } from '../bindings/CountEntry';
import type { StocktakeRequest } from '../bindings/StocktakeRequest';
import type { VarianceReport } from '../bindings/VarianceReport';
import { FakeBackend, parseImportText } from './fake';

const SYRINGE = '09506000134352';
const STENT = '06981205304251';
const GLUCOSE = '06958841004890';

const entry = (patch: Partial<CountEntry> = {}): CountEntry => ({
  user: '', item: SYRINGE, lot: 'L2402', serial: null, expiry: null, location: null, quantity: null, barcode: '', ...patch,
});
const startRequest = (patch: Partial<StocktakeRequest> = {}): StocktakeRequest => ({
  user: '', locations: ['MAIN'], categories: [], blind: false, tolerance_quantity: null, tolerance_value: null, note: '', ...patch,
});
const row = (report: VarianceReport, lot: string) => report.rows.find((r) => r.lot === lot)!;

let backend: FakeBackend;
const as = (username: string) => { backend.user = backend.users.find((u) => u.username === username)!; };
const onHand = async (lot: string) => (await backend.stock({ location: 'MAIN', search: lot, include_zero: true }))[0]?.quantity;

beforeEach(() => { backend = new FakeBackend({ user: 'wangli' }); });

describe('FakeBackend stocktakes', () => {
  it('numbers a stocktake when it starts and counts what is on the books at its locations', async () => {
    const started = await backend.startStocktake(startRequest({ user: 'someone-else' }));
    expect(started.number).toBe('PD-S01-000005'); // four opening stocktakes came first
    const view = await backend.stocktakeView(started.number);
    expect([view.status, view.locations, view.keys_in_scope, view.keys_counted, view.started_by]).toEqual(['counting', ['MAIN'], 10, 0, 'wangli']);
    expect((await backend.listStocktakes(10)).map((s) => s.number)).toEqual(['PD-S01-000005']);
  });

  it('closing the scope after counting ended writes off the books of then and keeps what arrived since', async () => {
    const { id } = await backend.startStocktake(startRequest());
    await backend.recordCount(id, entry({ quantity: 1200 }));
    as('zhaoqiang');
    await backend.finishCounting(id);
    const line = (lot: string, quantity: number) => ({ item: SYRINGE, lot, expiry: lot === 'L2503' ? '2028-03-31' : '2029-01-31', production_date: null, serial: null, quantity, unit_cost: null });
    await backend.postDocument({
      kind: 'receipt', user: '', location: 'MAIN', to_location: null, department: null, supplier: null,
      lines: [line('L2503', 7), line('L2999', 5)], note: '', override: null,
    });
    const report = await backend.stocktakeVariance(id);
    expect([row(report, 'L2503').expected, row(report, 'L2999').expected]).toEqual([1600, 0]);
    const posted = await backend.postStocktake(id, { user: '', close_scope: true, accept_over_tolerance: false });
    expect(posted.untouched).toBe(1); // L2999 arrived after counting ended
    expect(await onHand('L2503')).toBe(7);
    expect(await onHand('L2999')).toBe(5);
    expect(await onHand('L2402')).toBe(1200);
  });

  it('adds one per scan, a typed quantity replaces the scan, undo removes the newest', async () => {
    const { id } = await backend.startStocktake(startRequest());
    await backend.recordCount(id, entry());
    const second = await backend.recordCount(id, entry());
    expect([second.quantity, second.source, second.key_total, second.location]).toEqual([1, 'scan', 2, 'MAIN']);
    const typed = await backend.setCountQuantity(id, second.id, 5);
    expect([typed.quantity, typed.source, typed.key_total]).toEqual([5, 'typed', 6]);
    const undone = await backend.undoCount(id);
    expect([undone?.id, undone?.key_total]).toEqual([typed.id, 6]);
    await expect(backend.setCountQuantity(id, typed.id, 3)).rejects.toMatchObject({ code: 'unknown_observation' });
    const view = await backend.stocktakeView(id);
    expect(view.last_scans.map((o) => o.source)).toEqual(['typed', 'scan', 'scan']);
    expect(view.last_scans[0].key_total).toBe(1);
    await backend.undoCount(id);
    expect(await backend.undoCount(id)).toBeNull();
  });

  it('computes the variance from stock as of the scan, sorted by value, and posts it at the scan', async () => {
    const { id } = await backend.startStocktake(startRequest());
    await backend.recordCount(id, entry({ quantity: 1195 }));
    await backend.recordCount(id, entry({ lot: 'L2503', quantity: 1601 }));
    // An issue after the shelf was counted: subtracted from the count when it posts.
    await backend.postDocument({
      kind: 'issue', user: '', location: 'MAIN', to_location: null, department: 'ICU', supplier: null,
      lines: [{ item: SYRINGE, lot: 'L2402', expiry: null, production_date: null, serial: null, quantity: 10, unit_cost: null }], note: '', override: null,
    });
    as('zhaoqiang');
    const report = await backend.stocktakeVariance(id);
    expect(report.rows.slice(0, 2).map((r) => [r.lot, r.expected, r.counted, r.difference, r.value])).toEqual([
      ['L2402', 1200, 1195, -5, '-1.90'],
      ['L2503', 1600, 1601, 1, '0.38'],
    ]);
    expect([report.keys_in_scope, report.keys_counted, report.total_value]).toEqual([10, 2, '-1.52']);
    expect(row(report, 'L2312').flags).toEqual(['uncounted']);
    const posted = await backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: false });
    expect([posted.movements, posted.zeroed, posted.untouched]).toEqual([2, 0, 8]);
    expect(await onHand('L2402')).toBe(1185);
    expect(await onHand('L2503')).toBe(1601);
    expect(await onHand('L2312')).toBe(40);
    const frozen = await backend.stocktakeVariance(id);
    expect([frozen.status, frozen.rows.length, row(frozen, 'L2402').counted]).toEqual(['posted', 2, 1195]);
    await expect(backend.recordCount(id, entry())).rejects.toMatchObject({ code: 'stocktake_closed' });
  });

  it('closing the scope counts uncounted keys as zero', async () => {
    const { id } = await backend.startStocktake(startRequest());
    await backend.recordCount(id, entry({ quantity: 1200 }));
    as('zhaoqiang');
    const posted = await backend.postStocktake(id, { user: '', close_scope: true, accept_over_tolerance: false });
    expect([posted.movements, posted.zeroed, posted.untouched]).toEqual([10, 9, 0]);
    expect(await onHand('L2312')).toBe(0);
    expect(await onHand('L2402')).toBe(1200);
  });

  it('flags counters who disagree, refuses to post until a recount, and takes the recount', async () => {
    const { id } = await backend.startStocktake(startRequest());
    await backend.recordCount(id, entry({ quantity: 1198 }));
    as('alice');
    await backend.recordCount(id, entry({ quantity: 1199 }));
    as('zhaoqiang');
    const disputed = row(await backend.stocktakeVariance(id), 'L2402');
    expect([disputed.counted, disputed.flags, disputed.counters]).toEqual([null, ['disagreement'], { wangli: 1198, alice: 1199 }]);
    await expect(backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: false }))
      .rejects.toMatchObject({ code: 'stocktake_needs_recount', message: expect.stringContaining('有 1 个品规需要复盘') });
    expect(await backend.requestRecount(id, [{ item: SYRINGE, lot: 'L2402', serial: null, location: 'MAIN' }])).toBe(1);
    await backend.finishCounting(id);
    expect(row(await backend.stocktakeVariance(id), 'L2402').flags).toEqual(['recount_pending']);
    as('wangli');
    await expect(backend.recordCount(id, entry({ lot: 'L2503' }))).rejects.toMatchObject({ code: 'stocktake_closed' });
    await backend.recordCount(id, entry({ quantity: 1199 }));
    as('zhaoqiang');
    const recounted = row(await backend.stocktakeVariance(id), 'L2402');
    expect([recounted.counted, recounted.round, recounted.flags]).toEqual([1199, 1, []]);
    await backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: false });
    expect(await onHand('L2402')).toBe(1199);
  });

  it('asks for a recount beyond the tolerance unless the manager accepts the difference', async () => {
    const { id } = await backend.startStocktake(startRequest({ tolerance_quantity: 2, tolerance_value: '1.00' }));
    await backend.recordCount(id, entry({ quantity: 1197 })); // −3 units, −1.14
    await backend.recordCount(id, entry({ lot: 'L2503', quantity: 1598 })); // −2 units, −0.76: within both
    as('zhaoqiang');
    const report = await backend.stocktakeVariance(id);
    expect([row(report, 'L2402').flags, row(report, 'L2503').flags, report.keys_over_tolerance]).toEqual([['over_tolerance'], [], 1]);
    await expect(backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: false }))
      .rejects.toMatchObject({ code: 'stocktake_over_tolerance' });
    await backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: true });
    expect(await onHand('L2402')).toBe(1197);
  });

  it('never shows a blind stocktake’s expected quantities to a counter, and lets only managers decide', async () => {
    as('zhaoqiang');
    const { id } = await backend.startStocktake(startRequest({ blind: true }));
    as('wangli');
    await backend.recordCount(id, entry());
    await expect(backend.stocktakeVariance(id)).rejects.toMatchObject({ code: 'forbidden', message: '用户 wangli（库管员）无权审核盘点。请由有权限的人员操作。' });
    await expect(backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: false })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(backend.finishCounting(id)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(backend.cancelStocktake(id)).rejects.toMatchObject({ code: 'forbidden' });
    as('zhouwei');
    await expect(backend.recordCount(id, entry())).rejects.toMatchObject({ code: 'forbidden' });
    as('zhaoqiang');
    expect(row(await backend.stocktakeVariance(id), 'L2402').expected).toBe(1200);
  });

  it('a serial counted where the books do not have it leaves the place they had it', async () => {
    await backend.postDocument({
      kind: 'receipt', user: '', location: 'ICU-STORE', to_location: null, department: null, supplier: null,
      lines: [{ item: STENT, lot: 'B-FOUND', expiry: '2029-06-30', production_date: null, serial: 'SN-FOUND-1', quantity: 1, unit_cost: null }],
      note: '', override: null,
    });
    const { id } = await backend.startStocktake(startRequest());
    const keysInScope = (await backend.stocktakeView(id)).keys_in_scope;
    await backend.recordCount(id, entry({ item: STENT, lot: 'B-FOUND', serial: 'SN-FOUND-1' }));
    as('zhaoqiang');
    const report = await backend.stocktakeVariance(id);
    const at = (location: string) => report.rows.find((r) => r.serial === 'SN-FOUND-1' && r.location === location)!;
    expect([at('MAIN').expected, at('MAIN').counted, at('MAIN').flags]).toEqual([0, 1, ['not_on_books']]);
    expect([at('ICU-STORE').expected, at('ICU-STORE').counted, at('ICU-STORE').difference, at('ICU-STORE').flags])
      .toEqual([1, 0, -1, ['found_elsewhere']]);
    expect(report.keys_in_scope).toBe(keysInScope + 1); // the counted MAIN key; ICU-STORE's is outside the scope
    const posted = await backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: false });
    expect(posted.found_elsewhere).toBe(1);
    const places = (await backend.stock({ location: null, search: 'SN-FOUND-1', include_zero: false })).map((r) => r.location);
    expect(places).toEqual(['MAIN']);
  });

  it('blocks posting while one serial is counted in two places', async () => {
    const { id } = await backend.startStocktake(startRequest({ locations: ['MAIN', 'CARD-STORE'] }));
    for (const location of ['MAIN', 'CARD-STORE']) {
      await backend.recordCount(id, entry({ item: STENT, lot: 'B2609245', serial: 'SN42998747', location }));
    }
    as('zhaoqiang');
    const report = await backend.stocktakeVariance(id);
    const rows = report.rows.filter((r) => r.serial === 'SN42998747');
    expect(rows.map((r) => [r.location, r.flags.includes('serial_counted_twice')])).toEqual(expect.arrayContaining([['MAIN', true], ['CARD-STORE', true]]));
    await expect(backend.postStocktake(id, { user: '', close_scope: false, accept_over_tolerance: false })).rejects.toMatchObject({ code: 'stocktake_needs_recount' });
  });

  it('refuses what lies outside the scope, a second count of a serial, and a missing location', async () => {
    const { id } = await backend.startStocktake(startRequest());
    await expect(backend.recordCount(id, entry({ item: GLUCOSE, lot: '26010538', location: 'COLD' })))
      .rejects.toMatchObject({ code: 'out_of_stocktake_scope', message: 'COLD 的 06958841004890 不在盘点单 PD-S01-000005 的范围内。请核对库位，或另开盘点单。' });
    // Found on a shelf in scope but not on its books: counted, flagged.
    await backend.recordCount(id, entry({ item: GLUCOSE, lot: '26010538' }));
    await backend.recordCount(id, entry({ item: STENT, lot: 'B2609245', serial: 'SN83138197' }));
    await expect(backend.recordCount(id, entry({ item: STENT, lot: 'B2609245', serial: 'SN83138197' }))).rejects.toMatchObject({ code: 'serial_already_counted' });
    await expect(backend.recordCount(id, entry({ item: STENT, lot: 'B2609245', serial: null }))).rejects.toMatchObject({ code: 'serial_required' });
    as('zhaoqiang');
    const found = (await backend.stocktakeVariance(id)).rows.find((r) => r.code === GLUCOSE)!;
    expect([found.expected, found.counted, found.flags]).toEqual([0, 1, ['not_on_books']]);
    as('wangli');
    const several = await backend.startStocktake(startRequest({ locations: ['MAIN', 'COLD'] }));
    await expect(backend.recordCount(several.id, entry())).rejects.toMatchObject({ code: 'invalid_input' });
    const counted = await backend.recordCount(several.id, entry({ item: GLUCOSE, lot: '26010538', location: 'COLD' }));
    expect(counted.location).toBe('COLD');
  });

  it('lets a counter change only their own counts, and in review only keys sent for a recount', async () => {
    const { id } = await backend.startStocktake(startRequest({ locations: ['MAIN', 'COLD'] }));
    const mine = await backend.recordCount(id, entry({ location: 'MAIN' }));
    as('alice');
    await expect(backend.setCountQuantity(id, mine.id, 5)).rejects.toMatchObject({ code: 'unknown_observation' });
    expect(await backend.undoCount(id)).toBeNull();
    as('zhaoqiang');
    await backend.finishCounting(id);
    as('wangli');
    await expect(backend.setCountQuantity(id, mine.id, 5)).rejects.toMatchObject({ code: 'stocktake_closed' });
    await expect(backend.undoCount(id)).rejects.toMatchObject({ code: 'stocktake_closed' });
    await expect(backend.importCounts(id, '010950600013435210L2402\n', 'MAIN', () => undefined))
      .rejects.toMatchObject({ code: 'import_line', message: expect.stringContaining('第 1 行：盘点单') });
    // Quarantined stock is not counted until the excursion or recall is resolved.
    const cold = await backend.startStocktake(startRequest({ locations: ['COLD'] }));
    await expect(backend.recordCount(cold.id, entry({ item: GLUCOSE, lot: '25110201' })))
      .rejects.toMatchObject({ code: 'key_quarantined', message: 'COLD 的 06958841004890 批号 25110201 有 2 件处于隔离状态，不能盘点。请先处理温度超标或召回。' });
  });

  it('imports a scanner dump line by line with progress, or refuses it whole naming the line', async () => {
    const { id } = await backend.startStocktake(startRequest());
    const progress: string[] = [];
    const summary = await backend.importCounts(id, `010950600013435210L2402\n\n(01)${SYRINGE}(10)L2503\t4\n`, null, (p) => progress.push(`${p.stage} ${p.done}/${p.total}`));
    expect(summary).toEqual({ observations: 2, units: 5 });
    expect(progress).toEqual(['reading 1/2', 'reading 2/2', 'recording 1/2', 'recording 2/2']);
    await expect(backend.importCounts(id, '010950600013435210L2402\n(01)06901234567892(10)X\n', null, () => undefined))
      .rejects.toMatchObject({ code: 'import_line', message: expect.stringMatching(/^第 2 行：没有编码为 06901234567892 的品规/) });
    expect((await backend.stocktakeView(id)).observations).toBe(2);
    const twice = `(01)${STENT}(21)SN83138197\n(01)${STENT}(21)SN83138197\n`;
    await expect(backend.importCounts(id, twice, null, () => undefined))
      .rejects.toMatchObject({ code: 'import_line', message: expect.stringMatching(/^第 2 行：.*序列号 SN83138197 已经计过数/) });
    expect(parseImportText('A,1,2026-11-25 08:30\r\nB;3\nC\n')).toEqual([
      { line: 1, data: 'A', quantity: 1, atMs: Date.parse('2026-11-25T08:30Z') },
      { line: 2, data: 'B', quantity: 3, atMs: null },
      { line: 3, data: 'C', quantity: null, atMs: null },
    ]);
  });
});
