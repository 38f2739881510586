// The stocktake screen: start one, count with a wedge scanner wherever the
// focus is (one unit per scan, in order), type the last scan's quantity,
// undo, import a batch scanner's file, review the variance, recount, post,
// and a blind stocktake that never shows a counter the books.
import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import { openScreen, rowsOf, signedIn } from '../test/render';

type App = Awaited<ReturnType<typeof signedIn>>;

const SYRINGE = '09506000134352';
const STENT = '06981205304251';

/** What a wedge scanner types: the text, GS as Ctrl+], then Enter. */
async function scan(app: App, text: string) {
  const keys = text.split('\u001d').map((part) => part.replace(/[[{]/g, (c) => c + c)).join('{Control>}]{/Control}');
  await app.user.keyboard(`${keys}{Enter}`);
}

/** A person typing the last scan's quantity on the page, at a person's pace (never taken for a scan). */
async function typeQuantity(app: App, keys: string) {
  app.keys.gapMs = 120;
  await app.user.keyboard(keys);
  app.keys.gapMs = 2;
}

async function feedbackIs(outcome: 'success' | 'warning' | 'failure', message: string) {
  await waitFor(() => expect([screen.getByTestId('scan-feedback').dataset.outcome, screen.getByTestId('scan-feedback-message').textContent]).toEqual([outcome, message]));
}

async function scanFeedback(outcome: 'success' | 'warning' | 'failure') {
  await waitFor(() => expect(screen.getByTestId('scan-feedback').dataset.outcome).toBe(outcome));
  return screen.getByTestId('scan-feedback-message').textContent ?? '';
}

const total = () => screen.getByTestId('count-total').dataset.total;
const calls = (app: App, command: string) => app.backend.calls.filter((c) => c.command === command);

/** Signs in, opens the stocktake screen and starts a stocktake of MAIN (plus `more` choices). */
async function started(username = 'alice', more: (app: App) => Promise<void> = async () => undefined) {
  const app = await signedIn(username);
  await openScreen(app.user, 'stocktake');
  await waitFor(() => expect((screen.getByTestId('stocktake-new-location-MAIN') as HTMLInputElement).checked).toBe(true));
  await more(app);
  await app.user.click(screen.getByTestId('stocktake-start'));
  await screen.findByTestId('counting-view');
  await waitFor(() => expect(screen.getByTestId('count-progress').dataset.inScope).not.toBe('0'));
  return app;
}

describe('counting', () => {
  it('starts a stocktake of one location and counts one unit per scan, with the focus anywhere', async () => {
    const app = await started();
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Stocktake PD-S01-000005');
    expect(calls(app, 'start_stocktake')[0].args).toMatchObject({ request: { locations: ['MAIN'], blind: false, tolerance_quantity: null } });
    expect(screen.getByTestId('count-progress').dataset.inScope).toBe('10');
    expect(screen.getByTestId('count-big').textContent).toContain('Scan the first item on the shelf');

    await app.user.click(document.body);
    await scan(app, `]d201${SYRINGE}10L2402`);
    expect(await scanFeedback('success')).toBe('Counted: Sterile single-use syringe 5 ml · Lot L2402 · MAIN — your total 1.');
    expect(calls(app, 'record_count')[0].args).toEqual({
      stocktake: 'st-PD-S01-000005',
      entry: { user: '', item: SYRINGE, lot: 'L2402', serial: null, expiry: null, location: 'MAIN', quantity: null, barcode: `]d201${SYRINGE}10L2402` },
    });
    expect(total()).toBe('1');
    // Two more scans right after each other, the second while the first is still being recorded: both count, in order.
    await scan(app, `01${SYRINGE}10L2402`);
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('3'));
    await waitFor(() => expect(rowsOf('last-scan')).toHaveLength(3));
    expect(screen.getByTestId('count-progress').dataset.counted).toBe('1');
    expect(screen.getByTestId('count-progress').textContent).toContain('1 of 10 keys counted (10%)');
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('10');
    // The scan's digits never stay in the quantity field it may have typed into.
    expect((screen.getByTestId('count-qty') as HTMLInputElement).value).toBe('');
  });

  it('sets the last scan’s quantity from a number typed then Enter', async () => {
    const app = await started();
    await scan(app, `01${SYRINGE}10L2402`);
    await scanFeedback('success');
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('2'));
    expect(document.activeElement).toBe(document.body);
    await typeQuantity(app, '12{Enter}');
    await feedbackIs('success', 'Sterile single-use syringe 5 ml · Lot L2402 · MAIN: quantity set to 12, your total 13.');
    expect(total()).toBe('13');
    const set = calls(app, 'set_count_quantity');
    expect(set).toHaveLength(1);
    expect((set[0].args as { quantity: number }).quantity).toBe(12);
    await waitFor(() => expect(rowsOf('last-scan').map((r) => [r.dataset.source, r.dataset.quantity, r.dataset.superseded])).toEqual([
      ['typed', '12', ''], ['scan', '1', 'replaced'], ['scan', '1', ''],
    ]));
    // The field itself takes a quantity too; not a number sends nothing.
    await app.user.click(screen.getByTestId('count-qty'));
    await typeQuantity(app, 'x{Enter}');
    expect(screen.getByTestId('count-typed-error').textContent).toBe('Type a whole number from 0 to 10000000');
    expect(calls(app, 'set_count_quantity')).toHaveLength(1);
    await app.user.clear(screen.getByTestId('count-qty'));
    await typeQuantity(app, '4{Enter}');
    await waitFor(() => expect(total()).toBe('5'));
  });

  it('forgets digits a scanner typed on the page, and shows a person’s digits in the field', async () => {
    const app = await started();
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('1'));
    // An all-digit barcode (a bare GTIN, no lot: another key) typed on the page is a scan, not a quantity.
    await scan(app, SYRINGE);
    await feedbackIs('success', 'Counted: Sterile single-use syringe 5 ml · MAIN — your total 1.');
    expect((screen.getByTestId('count-qty') as HTMLInputElement).value).toBe('');
    await typeQuantity(app, '3');
    await waitFor(() => expect((screen.getByTestId('count-qty') as HTMLInputElement).value).toBe('3'));
    await typeQuantity(app, '{Escape}');
    await waitFor(() => expect((screen.getByTestId('count-qty') as HTMLInputElement).value).toBe(''));
    await typeQuantity(app, '6{Backspace}8{Enter}');
    await waitFor(() => expect(total()).toBe('8'));
    expect(calls(app, 'set_count_quantity').map((c) => (c.args as { quantity: number }).quantity)).toEqual([8]);
    // A barcode typed too slowly to be a scan is no quantity either: too many digits, or a letter among them.
    await typeQuantity(app, `${SYRINGE}{Enter}`);
    expect(screen.getByTestId('count-typed-error').textContent).toContain('nothing was changed');
    await typeQuantity(app, '1L{Enter}');
    expect((screen.getByTestId('count-qty') as HTMLInputElement).value).toBe('');
    expect(calls(app, 'set_count_quantity')).toHaveLength(1);
    expect(total()).toBe('8');
  });

  it('undoes the last scan with Ctrl+Z and with the button', async () => {
    const app = await started();
    for (let i = 0; i < 3; i += 1) await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('3'));
    await app.user.click(document.body);
    await app.user.keyboard('{Control>}z{/Control}');
    await feedbackIs('warning', 'Undone: Sterile single-use syringe 5 ml · Lot L2402 · MAIN (1); your total 2.');
    expect(total()).toBe('2');
    expect(screen.getByTestId('count-big').className).toContain('count-undone');
    expect(screen.getByTestId('count-big').textContent).toContain('Last scan undone (1)');
    await app.user.click(screen.getByTestId('count-undo'));
    await waitFor(() => expect(total()).toBe('1'));
    await waitFor(() => expect(rowsOf('last-scan').map((r) => r.dataset.superseded)).toEqual(['undone', 'undone', '']));
    expect(calls(app, 'undo_count')).toHaveLength(2);
    // A typed quantity now replaces the one scan that still counts.
    await typeQuantity(app, '7{Enter}');
    await waitFor(() => expect(total()).toBe('7'));
  });

  it('refuses an unknown item, saying so in the scan banner', async () => {
    const app = await started();
    await scan(app, '(01)06901234567892(10)X');
    expect(await scanFeedback('failure')).toBe('No item has the identifier 06901234567892, so it cannot be counted. Check the barcode or ask a manager to create the item.');
    expect(calls(app, 'record_count')).toHaveLength(0);
  });

  it('needs the location being counted when the stocktake covers several', async () => {
    const app = await started('alice', async (a) => { await a.user.click(screen.getByTestId('stocktake-new-location-COLD')); });
    await scan(app, `01${SYRINGE}10L2402`);
    expect(await scanFeedback('failure')).toBe('Choose the location you are counting, then scan again. This scan was not counted.');
    expect(calls(app, 'record_count')).toHaveLength(0);
    await app.user.selectOptions(screen.getByTestId('count-location'), 'COLD');
    await scan(app, '010695884100489010' + '26010538');
    expect(await scanFeedback('success')).toContain('Lot 26010538 · COLD');
    expect((calls(app, 'record_count')[0].args as { entry: { location: string } }).entry.location).toBe('COLD');
  });

  it('asks which reading of an ambiguous barcode is meant, and counts the one chosen', async () => {
    const app = await started();
    await scan(app, `]d201${SYRINGE}10L240217270214`);
    await screen.findByTestId('scan-candidates');
    // A scan while the window is open waits its turn; it is not lost.
    await scan(app, `01${SYRINGE}10L2503`);
    await app.user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('scan-candidates')).toBeNull());
    await waitFor(() => expect(calls(app, 'record_count')).toHaveLength(1));
    expect((calls(app, 'record_count')[0].args as { entry: { lot: string } }).entry.lot).toBe('L2503');
    await scan(app, `]d201${SYRINGE}10L240217270214`);
    await screen.findByTestId('scan-candidates');
    await app.user.keyboard('1');
    await waitFor(() => expect(calls(app, 'record_count')).toHaveLength(2));
    expect((calls(app, 'record_count')[1].args as { entry: { lot: string } }).entry.lot).toBe('L2402');
    expect(await scanFeedback('success')).toContain('Lot L2402');
  });

  it('imports a batch scanner’s file and says what it recorded; a bad line refuses the file', async () => {
    const app = await started();
    const file = new File([`01${SYRINGE}10L2402\n01${SYRINGE}10L2503\t4\n`], 'scanner.txt', { type: 'text/plain' });
    await app.user.upload(screen.getByTestId('count-import-file'), file);
    expect((await screen.findByTestId('import-summary')).textContent).toBe('✓ Imported 2 counts (5 units) from scanner.txt.');
    await waitFor(() => expect(screen.getByTestId('count-progress').dataset.counted).toBe('2'));
    // The big counter shows the newest count: the file's last line, 4 of lot L2503.
    expect(total()).toBe('4');
    const bad = new File([`01${SYRINGE}10L2402\nNOT-A-BARCODE\n`], 'bad.txt', { type: 'text/plain' });
    await app.user.upload(screen.getByTestId('count-import-file'), bad);
    expect((await screen.findByTestId('error-banner')).textContent).toContain('Line 2:');
    expect(screen.getByTestId('error-banner').dataset.code).toBe('import_line');
  });

  it('opens with Alt+6', async () => {
    const app = await signedIn('alice');
    await app.user.keyboard('{Alt>}6{/Alt}');
    expect(screen.getByTestId('nav-stocktake').getAttribute('aria-current')).toBe('page');
    expect(await screen.findByTestId('stocktake-new')).toBeTruthy();
  });
});

describe('review and posting', () => {
  it('shows the variance table sorted by value, the largest variances, and posts the counts to stock', async () => {
    const app = await started('zhaoqiang');
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('1'));
    await typeQuantity(app, '1195{Enter}');
    await waitFor(() => expect(total()).toBe('1195'));
    await scan(app, `01${SYRINGE}10L2503`);
    await waitFor(() => expect(rowsOf('last-scan')).toHaveLength(3));
    await typeQuantity(app, '1601{Enter}');
    await waitFor(() => expect(total()).toBe('1601'));

    await app.user.click(screen.getByTestId('stocktake-to-review'));
    await screen.findByTestId('review-view');
    expect(screen.queryByTestId('scan-feedback')).toBeNull(); // the counting view's last scan went with it
    await waitFor(() => expect(rowsOf('variance-row')).toHaveLength(10));
    const rows = rowsOf('variance-row');
    expect(rows.slice(0, 2).map((r) => [r.dataset.lot, r.dataset.expected, r.dataset.counted])).toEqual([['L2402', '1200', '1195'], ['L2503', '1600', '1601']]);
    expect(within(rows[0]).getByText('−5')).toBeTruthy();
    expect(within(rows[0]).getByText('−1.90')).toBeTruthy();
    expect(within(rows[2]).getByTestId('flag-uncounted').textContent).toBe('未盘');
    expect(screen.getByTestId('review-total-value').textContent).toBe('−1.52');
    expect(rowsOf('variance-bar').map((b) => [b.dataset.code, b.dataset.value])).toEqual([[SYRINGE, '-1.90'], [SYRINGE, '0.38']]);
    // Uncounted keys can be hidden; the rest keep the core's order.
    await app.user.click(screen.getByTestId('review-hide-uncounted'));
    expect(rowsOf('variance-row').map((r) => r.dataset.lot)).toEqual(['L2402', 'L2503']);
    await app.user.click(screen.getByTestId('review-hide-uncounted'));
    expect(rowsOf('variance-row')).toHaveLength(10);

    await app.user.click(screen.getByTestId('post-stocktake'));
    expect((await screen.findByTestId('stocktake-posted')).textContent).toContain('盘点单 PD-S01-000005 已过账：写入 2 条盘点变动，0 个记为 0，8 个保持不变。');
    await waitFor(() => expect(screen.getByTestId('stocktake-status').dataset.status).toBe('posted'));
    expect(rowsOf('variance-row')).toHaveLength(2);
    expect(screen.queryByTestId('post-stocktake')).toBeNull();

    await openScreen(app.user, 'stock');
    await waitFor(() => expect(rowsOf('stock-row').find((r) => r.dataset.lot === 'L2402')?.dataset.quantity).toBe('1195'));
    expect(rowsOf('stock-row').find((r) => r.dataset.lot === 'L2503')?.dataset.quantity).toBe('1601');
  });

  it('shows a stent counted here that the books have in another store, and posting moves it here', async () => {
    const app = await started('zhaoqiang');
    // SN42998747 is on the books in CARD-STORE, outside this MAIN stocktake.
    await scan(app, `01${STENT}10B2609245\u001d21SN42998747`);
    await waitFor(() => expect(total()).toBe('1'));
    await app.user.click(screen.getByTestId('stocktake-to-review'));
    await screen.findByTestId('review-view');
    const of = (location: string) => rowsOf('variance-row').find((r) => r.dataset.serial === 'SN42998747' && r.dataset.location === location);
    await waitFor(() => expect(of('CARD-STORE')).toBeTruthy());
    expect([of('CARD-STORE')!.dataset.expected, of('CARD-STORE')!.dataset.counted, of('CARD-STORE')!.dataset.flags]).toEqual(['1', '0', 'found_elsewhere']);
    expect(within(of('CARD-STORE')!).getByTestId('flag-found_elsewhere').textContent).toBe('在别处盘到（此处记为 0）');
    expect(of('MAIN')!.dataset.flags).toBe('not_on_books');
    await app.user.click(screen.getByTestId('post-stocktake'));
    expect((await screen.findByTestId('stocktake-posted')).textContent).toContain('1 个序列号在别处盘到，原账面位置记为 0。');
    await openScreen(app.user, 'stock');
    await waitFor(() => expect(rowsOf('stock-row').filter((r) => r.dataset.serial === 'SN42998747').map((r) => r.dataset.location)).toEqual(['MAIN']));
  });

  it('refuses to post beyond the tolerance until accepted, and closes the scope on request', async () => {
    const app = await started('zhaoqiang', async (a) => { await a.user.type(screen.getByTestId('stocktake-new-tolerance-qty'), '2'); });
    expect(calls(app, 'start_stocktake')[0].args).toMatchObject({ request: { tolerance_quantity: 2 } });
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('1'));
    await app.user.click(screen.getByTestId('stocktake-to-review'));
    await waitFor(() => expect(rowsOf('variance-row')[0]?.dataset.flags).toBe('over_tolerance'));
    expect(within(rowsOf('variance-row')[0]).getByTestId('flag-over_tolerance').textContent).toBe('超出允差');
    await app.user.click(screen.getByTestId('post-stocktake'));
    expect((await screen.findByTestId('error-banner')).dataset.code).toBe('stocktake_over_tolerance');
    expect(screen.getByTestId('error-banner').textContent).toContain('有 1 个品规差异超出允差');
    await app.user.click(screen.getByTestId('post-accept-over'));
    await app.user.click(screen.getByTestId('post-close-scope'));
    await app.user.click(screen.getByTestId('post-stocktake'));
    expect((await screen.findByTestId('stocktake-posted')).textContent).toContain('写入 10 条盘点变动，9 个记为 0');
    expect(screen.queryByTestId('error-banner')).toBeNull();
    const stock = await app.backend.stock({ location: 'MAIN', search: null, include_zero: false });
    expect(stock.map((r) => [r.lot, r.quantity])).toEqual([['L2402', 1]]);
  });

  it('sends selected rows for a recount, finishes counting, and only recounted keys take scans', async () => {
    const app = await started('zhaoqiang');
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('1'));
    await app.user.click(screen.getByTestId('stocktake-to-review'));
    await waitFor(() => expect(rowsOf('variance-row')).toHaveLength(10));
    expect(screen.getByTestId('review-recount').hasAttribute('disabled')).toBe(true);
    await app.user.click(within(rowsOf('variance-row')[0]).getByTestId('variance-select'));
    await app.user.click(screen.getByTestId('review-recount'));
    expect((await screen.findByTestId('review-done')).textContent).toContain('已要求复盘 1 个品规批次。');
    await waitFor(() => expect(rowsOf('variance-row').find((r) => r.dataset.lot === 'L2402')?.dataset.flags).toBe('recount_pending'));
    await app.user.click(screen.getByTestId('review-finish'));
    await waitFor(() => expect(screen.getByTestId('stocktake-status').dataset.status).toBe('review'));
    await app.user.click(screen.getByTestId('post-stocktake'));
    expect((await screen.findByTestId('error-banner')).dataset.code).toBe('stocktake_needs_recount');

    await app.user.click(screen.getByTestId('stocktake-to-count'));
    await screen.findByTestId('count-recount-only');
    await scan(app, `01${SYRINGE}10L2503`);
    expect(await scanFeedback('failure')).toContain('正在审核（只接受复盘的品规）');
    await scan(app, `01${SYRINGE}10L2402`);
    expect(await scanFeedback('success')).toContain('本人合计 1');
  });

  it('cancels a stocktake only after a confirmation', async () => {
    const app = await started('zhaoqiang');
    await app.user.click(screen.getByTestId('stocktake-to-review'));
    await app.user.click(await screen.findByTestId('cancel-stocktake'));
    expect(calls(app, 'cancel_stocktake')).toHaveLength(0);
    await app.user.click(screen.getByTestId('cancel-confirm'));
    expect((await screen.findByTestId('review-done')).textContent).toContain('已作废，库存未改变');
    await app.user.click(screen.getByTestId('stocktake-back'));
    await waitFor(() => expect(rowsOf('stocktake-row')[0]?.dataset.status).toBe('cancelled'));
  });
});

describe('blind stocktakes', () => {
  it('never offer a counter the review, and the core refuses it', async () => {
    const app = await signedIn('alice');
    const alice = app.backend.user;
    app.backend.user = app.backend.users.find((u) => u.username === 'zhaoqiang')!;
    const blind = await app.backend.startStocktake({ user: '', locations: ['MAIN'], categories: [], blind: true, tolerance_quantity: null, tolerance_value: null, note: '' });
    app.backend.user = alice;

    await openScreen(app.user, 'stocktake');
    await app.user.click(await screen.findByTestId(`stocktake-open-${blind.number}`));
    await screen.findByTestId('counting-view');
    expect(await screen.findByTestId('stocktake-blind')).toBeTruthy();
    expect(screen.queryByTestId('stocktake-to-review')).toBeNull();
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('1'));
    expect(screen.getByTestId('counting-view').textContent).not.toContain('1,200');
    expect(calls(app, 'stocktake_variance')).toHaveLength(0);
    await expect(app.backend.stocktakeVariance(blind.id)).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('show a manager the books', async () => {
    const app = await started('zhaoqiang', async (a) => { await a.user.click(screen.getByTestId('stocktake-new-blind')); });
    expect(await screen.findByTestId('stocktake-blind')).toBeTruthy();
    await app.user.click(screen.getByTestId('stocktake-to-review'));
    await waitFor(() => expect(rowsOf('variance-row')).toHaveLength(10));
    expect(rowsOf('variance-row').find((r) => r.dataset.lot === 'L2402')?.dataset.expected).toBe('1200');
  });
});

describe('the stocktake list', () => {
  it('lists stocktakes newest first and reopens one where it stands', async () => {
    const app = await started();
    await scan(app, `01${SYRINGE}10L2402`);
    await waitFor(() => expect(total()).toBe('1'));
    await app.user.click(screen.getByTestId('stocktake-back'));
    await waitFor(() => expect(rowsOf('stocktake-row').map((r) => [r.dataset.number, r.dataset.status])).toEqual([['PD-S01-000005', 'counting']]));
    await app.user.click(screen.getByTestId('stocktake-open-PD-S01-000005'));
    await screen.findByTestId('counting-view');
    // The big counter shows where this counter left off.
    await waitFor(() => expect(total()).toBe('1'));
    expect(rowsOf('last-scan')).toHaveLength(1);
  });

  it('says what to fix before starting', async () => {
    const app = await signedIn('alice');
    await openScreen(app.user, 'stocktake');
    const main = await screen.findByTestId('stocktake-new-location-MAIN') as HTMLInputElement;
    await waitFor(() => expect(main.checked).toBe(true));
    await app.user.click(main);
    await app.user.click(screen.getByTestId('stocktake-start'));
    expect(screen.getByTestId('stocktake-new-scope-error').textContent).toBe('Choose at least one location, or “All locations”');
    await app.user.click(screen.getByTestId('stocktake-new-all'));
    await app.user.click(screen.getByTestId('stocktake-start'));
    await screen.findByTestId('counting-view');
    expect(calls(app, 'start_stocktake')[0].args).toMatchObject({ request: { locations: [] } });
    // All locations: the counter chooses the one being counted.
    expect(screen.getByTestId('count-location')).toBeTruthy();
  });
});
