// Scanning in the app: a wedge scanner types a barcode wherever the focus is;
// the receive screen fills the line from it (or offers to create an unknown
// item), the issue screen picks the exact lot or serial and warns when that
// is not FEFO, a barcode that reads several ways asks the clerk to choose,
// and every scan says how it went. Keys come at scanner speed unless a test
// slows the key clock down to a person's pace.
import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import { openScreen, rowsOf, signedIn } from '../test/render';

type App = Awaited<ReturnType<typeof signedIn>>;

const value = (testId: string) => (screen.getByTestId(testId) as HTMLInputElement).value;

/** What a wedge scanner types: the text, GS as Ctrl+], then Enter. */
async function scan(app: App, text: string) {
  const keys = text.split('\u001d').map((part) => part.replace(/[[{]/g, (c) => c + c)).join('{Control>}]{/Control}');
  await app.user.keyboard(`${keys}{Enter}`);
}

async function scanFeedback(outcome: 'success' | 'warning' | 'failure') {
  await waitFor(() => expect(screen.getByTestId('scan-feedback').dataset.outcome).toBe(outcome));
  return screen.getByTestId('scan-feedback-message').textContent ?? '';
}

async function receiveScreen(username = 'alice') {
  const app = await signedIn(username);
  await openScreen(app.user, 'receive');
  await waitFor(() => expect(value('receive-location')).toBe('MAIN'));
  return app;
}

async function issueScreen(username = 'alice') {
  const app = await signedIn(username);
  await openScreen(app.user, 'issue');
  await waitFor(() => expect(value('issue-location')).toBe('MAIN'));
  await app.user.selectOptions(screen.getByTestId('issue-department'), 'ICU');
  return app;
}

describe('scanning on the receive screen', () => {
  it('fills item, lot, expiry, production date and quantity from a scan made with the focus elsewhere', async () => {
    const app = await receiveScreen();
    await app.user.type(screen.getByTestId('receive-unit-cost'), '0.36');
    await app.user.click(screen.getByTestId('receive-unit-cost'));
    await scan(app, ']d201095060001343521126050117271231' + '10LOT42\u001d3025');

    expect(await scanFeedback('success')).toContain('LOT42');
    expect(value('receive-item')).toBe('09506000134352');
    expect(screen.getByTestId('receive-item-name').textContent).toContain('Sterile single-use syringe');
    expect([value('receive-lot'), value('receive-expiry'), value('receive-production-date'), value('receive-qty')])
      .toEqual(['LOT42', '2027-12-31', '2026-05-01', '25']);
    // What the burst typed into the focused field is gone, and its Enter posted nothing.
    expect(value('receive-unit-cost')).toBe('0.36');
    expect(app.backend.calls.some((c) => c.command === 'post_document')).toBe(false);
    expect(app.backend.calls.find((c) => c.command === 'parse_barcode')!.args).toEqual({ data: ']d201095060001343521126050117271231' + '10LOT42\u001d3025' });

    // Everything is filled: the focus is on the quantity, and Enter posts.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('receive-qty')));
    await app.user.keyboard('{Enter}');
    expect((await screen.findByTestId('receive-result')).textContent).toContain('Receipt RK-S01-000001 posted');
    expect(rowsOf('posted-line').map((r) => [r.dataset.lot, r.dataset.quantity])).toEqual([['LOT42', '25']]);
  });

  it('flags a lot that expires within 90 or 30 days, and one that has expired, in the expiry colours', async () => {
    const app = await receiveScreen();
    await scan(app, '01095060001343521727011010SHORT');
    expect(await scanFeedback('warning')).toContain('Lot SHORT expires on 2027-01-10, in 46 days.');
    expect(screen.getByTestId('receive-expiry').dataset.expiry).toBe('within90');
    expect(screen.getByTestId('receive-expiry').className).toContain('expiry-within90');

    await scan(app, '01095060001343521726121010SOON');
    expect(await scanFeedback('warning')).toContain('in 15 days');
    expect(screen.getByTestId('receive-expiry').dataset.expiry).toBe('within30');

    await scan(app, '01095060001343521726100110OLD');
    expect(await scanFeedback('failure')).toBe('Lot OLD expired on 2026-10-01: the receipt will be refused.');
    expect(screen.getByTestId('receive-expiry').dataset.expiry).toBe('expired');
    expect(value('receive-lot')).toBe('OLD');
  });

  it('shows the barcode’s own warnings, such as a day-00 expiry', async () => {
    const app = await receiveScreen();
    await scan(app, '01095060001343521727010010L1');
    await scanFeedback('warning');
    expect(value('receive-expiry')).toBe('2027-01-31');
    expect(screen.getByTestId('scan-warning').textContent).toContain('(17) has day 00');
  });

  it('takes the serial of a serial-tracked item and fixes the quantity at one', async () => {
    const app = await receiveScreen();
    await scan(app, '01069812053042511728022210B26\u001d21SNNEW1');
    await scanFeedback('success');
    expect(value('receive-serial')).toBe('SNNEW1');
    expect(value('receive-qty')).toBe('1');
    expect((screen.getByTestId('receive-qty') as HTMLInputElement).readOnly).toBe(true);
  });

  it('a new scan replaces the previous product’s line, but keeps what the clerk typed', async () => {
    const app = await receiveScreen();
    await scan(app, '01095060001343521727123110LOT42');
    await scanFeedback('success');
    await app.user.type(screen.getByTestId('receive-qty'), '40');
    await app.user.click(document.body);
    // Another product with no lot in the barcode: nothing of the syringe's lot stays.
    await scan(app, '06976520008236');
    await waitFor(() => expect(value('receive-item')).toBe('06976520008236'));
    expect([value('receive-lot'), value('receive-expiry'), value('receive-qty')]).toEqual(['', '', '']);
    expect(await scanFeedback('success')).toContain('Sterile hypodermic needle');
  });

  it('says in the user’s language why a barcode cannot be read, and changes nothing', async () => {
    const app = await receiveScreen('wangli');
    await scan(app, '0109506000134353');
    expect(await scanFeedback('failure')).toContain('校验位错误');
    expect(value('receive-item')).toBe('');
    expect(screen.queryByTestId('error-banner')).toBeNull();
  });

  it('never takes typing by hand for a scan', async () => {
    const app = await receiveScreen();
    app.keys.gapMs = 120;
    await app.user.type(screen.getByTestId('receive-item'), '09506000134352{Enter}');
    expect(await screen.findByTestId('receive-item-name')).toBeTruthy();
    expect(app.backend.calls.some((c) => c.command === 'parse_barcode')).toBe(false);
    expect(screen.queryByTestId('scan-feedback')).toBeNull();
    expect(value('receive-item')).toBe('09506000134352');
  });

  it('lets a manager create an unknown item from the scan, then fills the line', async () => {
    const app = await receiveScreen('zhaoqiang');
    await scan(app, '(01)06901234567892(17)281231(10)NEWLOT');
    expect(await scanFeedback('warning')).toContain('没有标识为 06901234567892 的品规');
    const dialog = await screen.findByTestId('new-item-dialog');
    expect(dialog).toBeTruthy();
    expect(value('new-item-code')).toBe('06901234567892');
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('new-item-name')));
    await app.user.keyboard('无菌敷贴');
    await app.user.type(screen.getByTestId('new-item-name-en'), 'Sterile dressing');
    await app.user.type(screen.getByTestId('new-item-unit'), '片');
    await app.user.click(screen.getByTestId('new-item-cold-chain'));
    await app.user.click(screen.getByTestId('new-item-save'));
    expect(screen.getByText('冷链品规必须填写最低和最高储存温度')).toBeTruthy();
    await app.user.type(screen.getByTestId('new-item-min-temp'), '2');
    await app.user.type(screen.getByTestId('new-item-max-temp'), '8');
    await app.user.click(screen.getByTestId('new-item-save'));

    await waitFor(() => expect(screen.queryByTestId('new-item-dialog')).toBeNull());
    expect(await scanFeedback('success')).toContain('已新建品规 06901234567892。');
    expect([value('receive-item'), value('receive-lot'), value('receive-expiry')]).toEqual(['06901234567892', 'NEWLOT', '2028-12-31']);
    const created = app.backend.items.find((i) => i.code === '06901234567892')!;
    expect([created.name, created.name_en, created.unit, created.cold_chain, created.min_temp_c, created.max_temp_c])
      .toEqual(['无菌敷贴', 'Sterile dressing', '片', true, '2', '8']);
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('receive-qty')));
    await app.user.keyboard('5{Enter}');
    expect((await screen.findByTestId('receive-result')).textContent).toContain('RK-S01-000001');
  });

  it('keeps the keyboard inside the new-item dialog, and Esc closes it leaving the line as it was', async () => {
    const app = await receiveScreen('zhaoqiang');
    await scan(app, '(01)06901234567892(10)X');
    await screen.findByTestId('new-item-dialog');
    screen.getByTestId('new-item-cancel').focus();
    await app.user.tab();
    expect(document.activeElement).toBe(screen.getByTestId('new-item-code'));
    await app.user.tab({ shift: true });
    expect(document.activeElement).toBe(screen.getByTestId('new-item-cancel'));
    await app.user.keyboard('{Escape}');
    expect(screen.queryByTestId('new-item-dialog')).toBeNull();
    expect(value('receive-item')).toBe('');
    expect(app.backend.items.some((i) => i.code === '06901234567892')).toBe(false);
  });

  it('tells a clerk, who may not create items, to ask a manager', async () => {
    const app = await receiveScreen();
    await scan(app, '(01)06901234567892(10)X');
    expect(await scanFeedback('failure')).toBe('No item has the identifier 06901234567892. Ask a manager or purchasing to create the item, then scan again.');
    expect(screen.queryByTestId('new-item-dialog')).toBeNull();
  });

  it('asks which reading of an ambiguous barcode is meant: arrows and Enter, number keys, Esc', async () => {
    const app = await receiveScreen();
    const ambiguous = ']d2010950600013435210AB17270131';
    await scan(app, ambiguous);
    expect(await scanFeedback('warning')).toBe('The barcode reads 2 valid ways: choose one in the window.');
    const dialog = await screen.findByTestId('scan-candidates');
    expect(rowsOf('scan-candidate-1')[0].textContent).toContain('(10)AB (17)270131');
    expect([1, 2].map((n) => screen.getByTestId(`scan-candidate-${n}`).dataset.lot)).toEqual(['AB', 'AB17270131']);
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('scan-candidate-1')));
    expect(dialog.textContent).toContain('Press 1–2');
    await app.user.keyboard('{ArrowDown}{Enter}');
    await waitFor(() => expect(screen.queryByTestId('scan-candidates')).toBeNull());
    expect([value('receive-lot'), value('receive-expiry')]).toEqual(['AB17270131', '']);

    await scan(app, ambiguous);
    await screen.findByTestId('scan-candidates');
    await app.user.keyboard('1');
    await waitFor(() => expect(value('receive-lot')).toBe('AB'));
    expect(value('receive-expiry')).toBe('2027-01-31');

    await scan(app, ambiguous);
    await screen.findByTestId('scan-candidates');
    await app.user.keyboard('{Escape}');
    expect(await scanFeedback('warning')).toBe('Cancelled: nothing from this scan was filled in.');
    expect(screen.queryByTestId('scan-candidates')).toBeNull();
    expect(value('receive-lot')).toBe('AB');
  });

  it('never takes the digits of a new scan for a choice while the chooser is open', async () => {
    const app = await receiveScreen();
    const ambiguous = ']d2010950600013435210AB17270131';
    await scan(app, ambiguous);
    await screen.findByTestId('scan-candidates');
    await scan(app, ambiguous); // its "2", "0" and "1" reach the open chooser first
    await screen.findByTestId('scan-candidates');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await app.user.keyboard('{Escape}');
    expect(await scanFeedback('warning')).toBe('Cancelled: nothing from this scan was filled in.');
    expect(value('receive-lot')).toBe('');
  });
});

describe('scanning on the issue screen', () => {
  it('picks the scanned lot and warns that another lot expires first', async () => {
    const app = await issueScreen();
    await scan(app, '010950600013435210L2402');
    expect(await scanFeedback('warning')).toBe(
      'Lot L2402 is not the FEFO choice: Lot L2312 expires first (2026-12-10). Go on only if you mean to issue this one; otherwise choose the suggested lot.',
    );
    expect(value('issue-item')).toBe('09506000134352');
    expect(value('issue-lot')).toBe('L2402');
    await waitFor(() => expect(rowsOf('fefo-row').find((r) => r.dataset.lot === 'L2402')?.className).toContain('fefo-chosen'));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('issue-qty')));
    await app.user.keyboard('5{Enter}');
    await screen.findByTestId('issue-result');
    expect(rowsOf('posted-line').map((r) => [r.dataset.lot, r.dataset.quantity])).toEqual([['L2402', '5']]);
  });

  it('is content with the FEFO lot, and leaves a barcode without lot to FEFO', async () => {
    const app = await issueScreen();
    await scan(app, '010950600013435210L2312');
    expect(await scanFeedback('success')).toBe('Picked lot L2312 of Sterile single-use syringe 5 ml (expires 2026-12-10).');
    expect(value('issue-lot')).toBe('L2312');
    await scan(app, '0109506000134352');
    expect(await scanFeedback('success')).toContain('allocated first expiry, first out');
    expect(value('issue-lot')).toBe('');
  });

  it('refuses an expired lot and a lot that is not at the location', async () => {
    const app = await issueScreen();
    await scan(app, '010950600013435210L2211');
    expect(await scanFeedback('failure')).toBe('Lot L2211 expired on 2026-11-10 — it cannot be issued. Scrap it or return it to the supplier.');
    expect(value('issue-lot')).toBe('');
    await scan(app, '010950600013435210NOPE');
    expect(await scanFeedback('failure')).toBe('There is no available stock of lot NOPE of Sterile single-use syringe 5 ml at MAIN. Check the lot or the location.');
  });

  it('picks the scanned serial of a serial-tracked item, warning when another expires first', async () => {
    const app = await issueScreen();
    await scan(app, '010698120530425121SN96583262');
    expect(await scanFeedback('warning')).toContain('Serial SN96583262 is not the FEFO choice: Serial SN83138197 expires first (2028-02-22)');
    expect(value('issue-serial')).toBe('SN96583262');
    expect(value('issue-qty')).toBe('1');
    await scan(app, '010698120530425121SN83138197');
    expect(await scanFeedback('success')).toContain('Picked serial SN83138197');
  });

  it('refuses an item the catalogue does not know', async () => {
    const app = await issueScreen();
    await scan(app, '06901234567892');
    expect(await scanFeedback('failure')).toContain('No item has the identifier 06901234567892, so it cannot be issued.');
    expect(value('issue-item')).toBe('');
  });

  it('lets the clerk choose among the readings by number, then checks FEFO for the chosen lot', async () => {
    const app = await issueScreen();
    await scan(app, '010950600013435210L240217270214');
    await screen.findByTestId('scan-candidates');
    await app.user.keyboard('1');
    await waitFor(() => expect(value('issue-lot')).toBe('L2402'));
    expect(await scanFeedback('warning')).toContain('Lot L2402 is not the FEFO choice');
  });
});

describe('scanning elsewhere', () => {
  it('leaves a scan into a screen that takes none exactly as typed, and shows nothing', async () => {
    const app = await signedIn('alice');
    await app.user.type(screen.getByTestId('stock-search'), 'L2402{Enter}');
    await app.user.type(screen.getByTestId('stock-search'), '09506000134352{Enter}');
    expect(value('stock-search')).toBe('L240209506000134352');
    expect(app.backend.calls.some((c) => c.command === 'parse_barcode')).toBe(false);
    expect(screen.queryByTestId('scan-feedback')).toBeNull();
  });

  it('clears the last scan’s banner when the clerk moves to another screen', async () => {
    const app = await receiveScreen();
    await scan(app, '0109506000134352');
    await scanFeedback('success');
    await openScreen(app.user, 'issue');
    expect(screen.queryByTestId('scan-feedback')).toBeNull();
  });
});
