import { describe, expect, it, beforeEach } from 'vitest';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach } from 'vitest';
import { App } from './App';
import { BackendContext } from './api/backend';
import { FakeBackend } from './api/fake';

let backend: FakeBackend;

function renderApp() {
  return render(
    <BackendContext.Provider value={backend}>
      <App />
    </BackendContext.Provider>,
  );
}

async function chooseClerk(username = 'alice') {
  fireEvent.click(await screen.findByTestId(`user-option-${username}`));
  await screen.findByTestId('nav-stock');
}

function type(testId: string, value: string) {
  fireEvent.change(screen.getByTestId(testId), { target: { value } });
}

beforeEach(() => { backend = new FakeBackend('2026-11-25'); });
afterEach(() => cleanup());

describe('the app', () => {
  it('asks who is working, then opens the stock screen with expiry highlighted', async () => {
    renderApp();
    await chooseClerk();
    const rows = await screen.findAllByTestId('stock-row');
    expect(rows.length).toBe(5);
    const expired = rows.find((r) => r.dataset.lot === 'L2301')!;
    expect(expired.className).toContain('expiry-expired');
    const soon = rows.find((r) => r.dataset.lot === 'L2401')!;
    expect(soon.className).toContain('expiry-within30');
    expect(screen.getByTestId('stock-summary').textContent).toContain('Expired 1');
  });

  it('receives a line and shows the receipt number, then stock includes it', async () => {
    renderApp();
    await chooseClerk();
    fireEvent.click(screen.getByTestId('nav-receive'));
    await waitFor(() => expect((screen.getByTestId('receive-location') as HTMLSelectElement).value).toBe('MAIN'));
    type('receive-item', '9506000134352');
    fireEvent.keyDown(screen.getByTestId('receive-item'), { key: 'Enter' });
    await screen.findByTestId('receive-item-name');
    type('receive-lot', 'NEW1');
    type('receive-expiry', '2029-05-31');
    type('receive-qty', '25');
    fireEvent.click(screen.getByTestId('receive-submit'));
    const banner = await screen.findByTestId('receive-result');
    expect(banner.textContent).toContain('Receipt RK-S01-000001 posted');
    fireEvent.click(screen.getByTestId('nav-stock'));
    await waitFor(() => expect(screen.getAllByTestId('stock-row').some((r) => r.dataset.lot === 'NEW1' && r.dataset.quantity === '25')).toBe(true));
  });

  it('refuses a bad date and quantity before posting anything', async () => {
    renderApp();
    await chooseClerk();
    fireEvent.click(screen.getByTestId('nav-receive'));
    type('receive-item', '09506000134352');
    type('receive-expiry', '2029-02-30');
    type('receive-qty', '-2');
    fireEvent.click(screen.getByTestId('receive-submit'));
    expect(await screen.findByText('Dates are YYYY-MM-DD')).toBeTruthy();
    expect(screen.getByText('The quantity must be a whole number above zero')).toBeTruthy();
    expect(screen.queryByTestId('receive-result')).toBeNull();
  });

  it('suggests the FEFO lot, and offers a manager override beyond stock', async () => {
    renderApp();
    await chooseClerk();
    fireEvent.click(screen.getByTestId('nav-issue'));
    await waitFor(() => expect((screen.getByTestId('issue-location') as HTMLSelectElement).options.length).toBeGreaterThan(0));
    fireEvent.change(screen.getByTestId('issue-department'), { target: { value: 'ICU' } });
    type('issue-item', '09506000134352');
    fireEvent.keyDown(screen.getByTestId('issue-item'), { key: 'Enter' });
    const fefo = await screen.findAllByTestId('fefo-row');
    expect(fefo.map((r) => r.dataset.lot)).toEqual(['L2301', 'L2401', 'L2402']);
    expect(fefo[1].className).toBe('suggested-row');
    expect(fefo[0].className).toBe('expired-row');
    type('issue-qty', '500');
    fireEvent.click(screen.getByTestId('issue-submit'));
    const banner = await screen.findByTestId('error-banner');
    expect(banner.dataset.code).toBe('insufficient_stock');
    expect(await screen.findByTestId('issue-override')).toBeTruthy();
    type('issue-override-manager', 'zhaoqiang');
    type('issue-override-reason', 'emergency');
    await act(async () => { fireEvent.click(screen.getByTestId('issue-override-submit')); });
    expect((await screen.findByTestId('issue-result')).textContent).toContain('CK-S01-000001');
  });

  it('switches language at any time', async () => {
    renderApp();
    await chooseClerk('wangli');
    expect(screen.getByTestId('nav-stock').textContent).toContain('库存');
    await act(async () => { fireEvent.click(screen.getByTestId('lang-toggle')); });
    expect(screen.getByTestId('nav-stock').textContent).toContain('Stock');
    expect(backend.language).toBe('en');
  });

  it('sorts the stock table by clicking a header', async () => {
    renderApp();
    await chooseClerk();
    await screen.findAllByTestId('stock-row');
    fireEvent.click(screen.getByTestId('stock-sort-quantity'));
    let quantities = screen.getAllByTestId('stock-row').map((r) => Number(r.dataset.quantity));
    expect(quantities).toEqual([...quantities].sort((a, b) => a - b));
    fireEvent.click(screen.getByTestId('stock-sort-quantity'));
    quantities = screen.getAllByTestId('stock-row').map((r) => Number(r.dataset.quantity));
    expect(quantities).toEqual([...quantities].sort((a, b) => b - a));
  });
});
