import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import { openScreen, renderApp, rowsOf, signedIn } from './test/render';

describe('the shell', () => {
  it('asks who is working, showing names and translated roles, then shows the site and user', async () => {
    const { user, backend } = renderApp();
    const option = await screen.findByTestId('user-option-zhaoqiang');
    expect(option.textContent).toContain('赵强');
    expect(option.textContent).toContain('主管');
    expect(screen.queryByTestId('nav-stock')).toBeNull();
    await user.click(screen.getByTestId('user-option-wangli'));
    await screen.findByTestId('nav-stock');
    expect(screen.getByTestId('site-code').textContent).toContain('S01');
    expect(screen.getByTestId('current-user').textContent).toContain('王丽');
    expect(backend.user?.username).toBe('wangli');
    expect(screen.getByTestId('nav-stock').getAttribute('aria-current')).toBe('page');
  });

  it('switches language at any time, and the core follows', async () => {
    const { user, backend } = await signedIn('wangli');
    expect(screen.getByTestId('nav-stock').textContent).toContain('库存');
    expect(document.documentElement.lang).toBe('zh-CN');
    await user.click(screen.getByTestId('lang-toggle'));
    expect(screen.getByTestId('nav-stock').textContent).toContain('Stock');
    expect(document.documentElement.lang).toBe('en');
    await waitFor(() => expect(backend.language).toBe('en'));
    // The core's messages now come in English.
    await openScreen(user, 'issue');
    await user.type(screen.getByTestId('issue-item'), 'NOPE{Enter}');
    expect((await screen.findByTestId('issue-item-error')).textContent).toContain('No item has the code NOPE');
  });

  it('switches screens with Alt+1..5', async () => {
    const { user } = await signedIn('alice');
    await user.keyboard('{Alt>}3{/Alt}');
    expect(screen.getByTestId('nav-issue').getAttribute('aria-current')).toBe('page');
    expect(await screen.findByTestId('issue-location')).toBeTruthy();
    await user.keyboard('{Alt>}5{/Alt}');
    expect(await screen.findByTestId('trace-input')).toBeTruthy();
    await user.keyboard('{Alt>}1{/Alt}');
    expect(await screen.findByTestId('stock-search')).toBeTruthy();
    await waitFor(() => expect(rowsOf('stock-row').length).toBeGreaterThan(0));
  });

  it('goes back to the chooser when the core says no_user', async () => {
    const { user, backend } = await signedIn('alice');
    await openScreen(user, 'transfer');
    await screen.findByTestId('transfer-from');
    backend.user = null; // the core's session lost its user
    await user.type(screen.getByTestId('transfer-item'), '09506000134352');
    await user.type(screen.getByTestId('transfer-qty'), '1{Enter}');
    expect(await screen.findByTestId('user-option-alice')).toBeTruthy();
    expect(screen.getByTestId('error-banner').dataset.code).toBe('no_user');
  });

  it('finds out on navigation when the session has no user any more', async () => {
    const { user, backend } = await signedIn('alice');
    backend.user = null;
    await openScreen(user, 'receive');
    expect(await screen.findByTestId('user-option-alice')).toBeTruthy();
  });

  it('lets the clerk switch user from the header', async () => {
    const { user } = await signedIn('alice');
    await user.click(screen.getByTestId('switch-user'));
    await user.click(await screen.findByTestId('user-option-wangli'));
    await waitFor(() => expect(screen.getByTestId('current-user').textContent).toContain('王丽'));
    expect(screen.getByTestId('nav-stock').textContent).toContain('库存');
  });
});

describe('transfer and movements', () => {
  it('transfers by FEFO, then lists the movements and traces the lot oldest first', async () => {
    const { user } = await signedIn('alice');
    await openScreen(user, 'transfer');
    await waitFor(() => expect((screen.getByTestId('transfer-from') as HTMLSelectElement).value).toBe('MAIN'));
    expect((screen.getByTestId('transfer-to') as HTMLSelectElement).value).toBe('ICU-STORE');
    await user.type(screen.getByTestId('transfer-item'), '09506000134352{Enter}');
    await waitFor(() => expect(rowsOf('fefo-row')).toHaveLength(4));
    expect((screen.getByTestId('transfer-lot') as HTMLSelectElement).value).toBe('');
    await user.type(screen.getByTestId('transfer-qty'), '30{Enter}');
    const banner = await screen.findByTestId('transfer-result');
    expect(banner.textContent).toContain('Transfer DB-S01-000001 posted');
    expect(rowsOf('posted-line').map((r) => r.dataset.lot)).toEqual(['L2312']);

    await openScreen(user, 'movements');
    await waitFor(() => expect(rowsOf('movement-row').length).toBeGreaterThan(2));
    const [newest, second] = rowsOf('movement-row');
    expect(newest.dataset.kind).toBe('transfer_in');
    expect(newest.textContent).toContain('Transfer in');
    expect(newest.textContent).toContain('+30');
    expect(newest.textContent).toContain('ICU Sub-store');
    expect(second.dataset.kind).toBe('transfer_out');
    expect(second.textContent).toContain('−30');
    expect(newest.textContent).toMatch(/2026-11-25 \d\d:\d\d:\d\d/);

    await user.type(screen.getByTestId('trace-input'), 'L2312{Enter}');
    await waitFor(() => expect(rowsOf('movement-row').map((r) => r.dataset.kind)).toEqual(['count', 'count', 'transfer_out', 'transfer_in']));
    expect(screen.getByTestId('movements-summary').textContent).toContain('Trace of L2312: 4 movements, oldest first');
    await user.click(screen.getByTestId('trace-clear'));
    await waitFor(() => expect(rowsOf('movement-row')[0].dataset.kind).toBe('transfer_in'));
  });
});
