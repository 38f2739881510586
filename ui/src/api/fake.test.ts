// The fake imitates the core's rules closely enough that screen tests mean
// something; these pin the rules it imitates (crates/ledger/src/posting.rs).
import { beforeEach, describe, expect, it } from 'vitest';
import type { DocumentRequest } from '../bindings/DocumentRequest';
import type { LineRequest } from '../bindings/LineRequest';
import { FakeBackend } from './fake';

const SYRINGE = '09506000134352';
const STENT = '06981205304251';

const line = (patch: Partial<LineRequest>): LineRequest => ({
  item: SYRINGE, lot: null, expiry: null, production_date: null, serial: null, quantity: 1, unit_cost: null, ...patch,
});
const request = (patch: Partial<DocumentRequest>): DocumentRequest => ({
  kind: 'issue', user: '', location: 'MAIN', to_location: null, department: 'ICU', supplier: null, lines: [line({})],
  note: '', override: null, ...patch,
});

let backend: FakeBackend;
beforeEach(() => { backend = new FakeBackend({ user: 'wangli' }); });

describe('FakeBackend', () => {
  it('lists FEFO choices: expired first in date order but marked, serials after lots', async () => {
    const choices = await backend.fefoChoices(SYRINGE, 'MAIN');
    expect(choices.map((c) => [c.lot, c.expired])).toEqual([['L2211', true], ['L2312', false], ['L2402', false], ['L2503', false]]);
    const stents = await backend.fefoChoices(STENT, 'MAIN');
    expect(stents.map((c) => c.serial)).toEqual(['SN83138197', 'SN23108918', 'SN96583262']);
  });

  it('resolves GTIN-13 and internal codes, refuses unknown ones with unknown_item', async () => {
    expect((await backend.findItem('9506000134352')).code).toBe(SYRINGE);
    expect((await backend.findItem('SYR-5ML')).code).toBe(SYRINGE);
    await expect(backend.findItem('123')).rejects.toMatchObject({ code: 'unknown_item' });
  });

  it('issues by FEFO across lots, skipping expired ones', async () => {
    const doc = await backend.postDocument(request({ lines: [line({ quantity: 50 })] }));
    expect(doc.number).toBe('CK-S01-000001');
    expect(doc.lines.map((l) => [l.lot, l.quantity])).toEqual([['L2312', 40], ['L2402', 10]]);
    expect(doc.movements.every((m) => m.kind === 'issue' && m.quantity < 0)).toBe(true);
  });

  it('refuses beyond stock, then posts with a manager override (shortfall on the last lot)', async () => {
    await expect(backend.postDocument(request({ lines: [line({ quantity: 3000 })] })))
      .rejects.toMatchObject({ code: 'insufficient_stock', message: expect.stringContaining('可用库存只有 2840') });
    await expect(backend.postDocument(request({ lines: [line({ quantity: 3000 })], override: { manager: 'wangli', reason: 'x' } })))
      .rejects.toMatchObject({ code: 'override_not_manager' });
    await expect(backend.postDocument(request({ lines: [line({ quantity: 3000 })], override: { manager: 'zhaoqiang', reason: ' ' } })))
      .rejects.toMatchObject({ code: 'override_reason_required' });
    const doc = await backend.postDocument(request({ lines: [line({ quantity: 3000 })], override: { manager: 'zhaoqiang', reason: '抢救' } }));
    expect(doc.lines.at(-1)).toMatchObject({ lot: 'L2503', quantity: 1760 });
    expect(doc.movements[0]).toMatchObject({ override_by: 'zhaoqiang', reason: '抢救' });
    const rows = await backend.stock({ location: 'MAIN', search: 'L2503', include_zero: true });
    expect(rows[0].quantity).toBe(-160);
  });

  it('refuses an expired lot in the session language', async () => {
    const expired = request({ lines: [line({ lot: 'L2211' })] });
    await expect(backend.postDocument(expired)).rejects.toEqual({
      code: 'lot_expired', message: '批号 L2211 已于 2026-11-10 过期，不能使用。请报废或退回供应商。',
    });
    await backend.setLanguage('en');
    await expect(backend.postDocument(expired)).rejects.toMatchObject({ code: 'lot_expired', message: expect.stringMatching(/^Lot L2211 expired on 2026-11-10/) });
  });

  it('checks receipts: lot expiry mismatch, expired lots, serials', async () => {
    const receipt = (patch: Partial<LineRequest>) => request({ kind: 'receipt', department: null, lines: [line(patch)] });
    await expect(backend.postDocument(receipt({ lot: 'L2402', expiry: '2027-03-01' }))).rejects.toMatchObject({ code: 'lot_expiry_mismatch' });
    await expect(backend.postDocument(receipt({ lot: 'OLD', expiry: '2026-01-01' }))).rejects.toMatchObject({ code: 'lot_expired' });
    await expect(backend.postDocument(receipt({ item: STENT, lot: 'B1', quantity: 1 }))).rejects.toMatchObject({ code: 'serial_required' });
    await expect(backend.postDocument(receipt({ item: STENT, lot: 'B1', serial: 'SN83138197' }))).rejects.toMatchObject({ code: 'serial_already_in_stock' });
    const doc = await backend.postDocument(receipt({ lot: 'N1', expiry: '2029-01-31', quantity: 25, unit_cost: '0.40' }));
    expect(doc.number).toBe('RK-S01-000001');
    expect(doc.lines[0]).toMatchObject({ lot: 'N1', expiry: '2029-01-31', quantity: 25, unit_cost: '0.40' });
  });

  it('transfers as a pair of movements and never sends expired stock to a department', async () => {
    const doc = await backend.postDocument(request({ kind: 'transfer', department: null, to_location: 'OR-STORE', lines: [line({ quantity: 5 })] }));
    expect(doc.movements.map((m) => [m.kind, m.location, m.quantity])).toEqual([['transfer_out', 'MAIN', -5], ['transfer_in', 'OR-STORE', 5]]);
    await expect(backend.postDocument(request({ kind: 'transfer', department: null, to_location: 'OR-STORE', lines: [line({ lot: 'L2211' })] })))
      .rejects.toMatchObject({ code: 'expired_to_department' });
    await expect(backend.postDocument(request({ kind: 'transfer', department: null, to_location: 'MAIN' })))
      .rejects.toMatchObject({ code: 'same_location' });
  });

  it('needs a chosen user, and a role that may post', async () => {
    await expect(new FakeBackend().postDocument(request({}))).rejects.toMatchObject({ code: 'no_user' });
    const auditor = new FakeBackend({ user: 'zhouwei' });
    await expect(auditor.postDocument(request({}))).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('traces a lot oldest first and lists movements newest first with a limit', async () => {
    await backend.postDocument(request({ lines: [line({ quantity: 2 })] }));
    const trace = await backend.trace('L2312');
    expect(trace.map((m) => m.kind)).toEqual(['count', 'count', 'issue']);
    const newest = await backend.movements({ newest_first: true, limit: 1 });
    expect(newest).toHaveLength(1);
    expect(newest[0].kind).toBe('issue');
  });
});
