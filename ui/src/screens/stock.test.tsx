import { afterEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import { rowsOf, signedIn } from '../test/render';

afterEach(() => { vi.restoreAllMocks(); vi.unstubAllGlobals(); });

const attr = (name: string) => rowsOf('stock-row').map((r) => r.getAttribute(name));

describe('stock screen', () => {
  it('opens after choosing a user, with expiry classes, summary and legend', async () => {
    await signedIn('alice');
    await waitFor(() => expect(rowsOf('stock-row')).toHaveLength(14));
    const byLot = (lot: string) => rowsOf('stock-row').find((r) => r.dataset.lot === lot)!;
    expect(byLot('L2211').dataset.expiryClass).toBe('expired');
    expect(byLot('L2211').className).toContain('expiry-expired');
    expect(byLot('L2312').dataset.expiryClass).toBe('within30');
    expect(byLot('L2402').dataset.expiryClass).toBe('within90');
    expect(byLot('L2503').dataset.expiryClass).toBe('ok');
    expect(screen.getByTestId('count-expired').textContent).toBe('Expired 1');
    expect(screen.getByTestId('count-within30').textContent).toBe('≤ 30 days 4');
    expect(screen.getByTestId('count-within90').textContent).toBe('≤ 90 days 2');
    expect(screen.getByTestId('stock-summary').textContent).toContain('14 rows');
    expect(screen.getByTestId('stock-summary').textContent).toContain('Total quantity 8,834');
    // English names for an English-speaking user; the quantity keeps its unit.
    expect(within(byLot('L2503')).getByText('Sterile single-use syringe 5 ml')).toBeTruthy();
    expect(byLot('L2503').textContent).toContain('1,600 支');
    expect(document.activeElement).toBe(screen.getByTestId('stock-search'));
  });

  it('sorts by clicking a header, ascending then descending', async () => {
    const { user } = await signedIn('alice');
    await waitFor(() => expect(rowsOf('stock-row').length).toBeGreaterThan(0));
    await user.click(screen.getByTestId('stock-sort-quantity'));
    let quantities = attr('data-quantity').map(Number);
    expect(quantities).toEqual([...quantities].sort((a, b) => a - b));
    expect(screen.getByTestId('stock-sort-quantity').getAttribute('aria-sort')).toBe('ascending');
    await user.click(screen.getByTestId('stock-sort-quantity'));
    quantities = attr('data-quantity').map(Number);
    expect(quantities).toEqual([...quantities].sort((a, b) => b - a));
    expect(screen.getByTestId('stock-sort-quantity').getAttribute('aria-sort')).toBe('descending');
    await user.click(screen.getByTestId('stock-sort-expiry'));
    const expiries = rowsOf('stock-row').map((r) => r.children[3].textContent).filter(Boolean) as string[];
    expect(expiries).toEqual([...expiries].sort());
  });

  it('filters by search text (through the core, debounced) and by location', async () => {
    const { user, backend } = await signedIn('alice');
    await waitFor(() => expect(rowsOf('stock-row')).toHaveLength(14));
    await user.type(screen.getByTestId('stock-search'), 'stent');
    await waitFor(() => expect(attr('data-code')).toEqual(Array(4).fill('06981205304251')));
    // One request for the whole word, not one per keystroke.
    const searches = backend.calls.filter((c) => c.command === 'stock').map((c) => (c.args as { filter: { search: string | null } }).filter.search);
    expect(searches).toEqual([null, 'stent']);
    await user.selectOptions(screen.getByTestId('stock-location'), 'CARD-STORE');
    await waitFor(() => expect(attr('data-location')).toEqual(['CARD-STORE']));
    await user.clear(screen.getByTestId('stock-search'));
    await waitFor(() => expect(attr('data-location')).toEqual(['CARD-STORE']));
    await user.selectOptions(screen.getByTestId('stock-location'), 'MAIN');
    await waitFor(() => expect(rowsOf('stock-row')).toHaveLength(10));
    expect(new Set(attr('data-location'))).toEqual(new Set(['MAIN']));
  });

  it('exports the visible rows as CSV with a BOM', async () => {
    const { user } = await signedIn('wangli');
    await waitFor(() => expect(rowsOf('stock-row')).toHaveLength(14));
    await user.selectOptions(screen.getByTestId('stock-location'), 'COLD');
    await waitFor(() => expect(rowsOf('stock-row')).toHaveLength(2));
    let blob: Blob | null = null;
    let filename = '';
    // jsdom has no object URLs: stand in for the browser's.
    vi.stubGlobal('URL', Object.assign(class extends URL {}, {
      createObjectURL: (b: Blob) => { blob = b; return 'blob:stock'; },
      revokeObjectURL: () => {},
    }));
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) { filename = this.download; });
    await user.click(screen.getByTestId('stock-export'));
    expect(filename).toBe('medledger-stock-COLD-2026-11-25.csv');
    const bytes = new Uint8Array(await blob!.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    expect(text).toBe(
      '\uFEFF编码,名称,批号,有效期,序列号,库位,状态,数量,单位\r\n'
      + '06958841004890,葡萄糖测定试剂盒（己糖激酶法）,25110201,2026-12-20,,冷库,隔离,2,盒\r\n'
      + '06958841004890,葡萄糖测定试剂盒（己糖激酶法）,26010538,2027-01-02,,冷库,可用,13,盒\r\n',
    );
  });

  it('refreshes when shown again and on request', async () => {
    const { user, backend } = await signedIn('alice');
    await waitFor(() => expect(rowsOf('stock-row')).toHaveLength(14));
    const count = () => backend.calls.filter((c) => c.command === 'stock').length;
    const before = count();
    await user.click(screen.getByTestId('stock-refresh'));
    await waitFor(() => expect(count()).toBe(before + 1));
    await user.click(screen.getByTestId('nav-movements'));
    await user.click(screen.getByTestId('nav-stock'));
    await waitFor(() => expect(count()).toBe(before + 2));
  });
});
