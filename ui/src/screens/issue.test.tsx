import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import { openScreen, rowsOf, signedIn } from '../test/render';

async function issueScreen(username = 'alice') {
  const app = await signedIn(username);
  await openScreen(app.user, 'issue');
  await waitFor(() => expect((screen.getByTestId('issue-location') as HTMLSelectElement).value).toBe('MAIN'));
  return app;
}

describe('issue screen', () => {
  it('shows the FEFO lots with the first non-expired one suggested and expired ones struck and disabled', async () => {
    const { user } = await issueScreen();
    await user.selectOptions(screen.getByTestId('issue-department'), 'ICU');
    await user.type(screen.getByTestId('issue-item'), '09506000134352{Enter}');
    await waitFor(() => expect(rowsOf('fefo-row')).toHaveLength(4));
    const rows = rowsOf('fefo-row');
    expect(rows.map((r) => [r.dataset.lot, r.dataset.state])).toEqual([
      ['L2211', 'expired'], ['L2312', 'suggested'], ['L2402', 'ok'], ['L2503', 'ok'],
    ]);
    expect(rows[0].className).toContain('fefo-expired');
    expect(rows[1].className).toContain('fefo-suggested');
    const select = screen.getByTestId('issue-lot') as HTMLSelectElement;
    expect(select.value).toBe('');
    expect(select.options[0].textContent).toBe('Automatic by expiry (FEFO)');
    const option = (lot: string) => [...select.options].find((o) => o.value === lot)!;
    expect(option('L2211').disabled).toBe(true);
    expect(option('L2312').textContent).toContain('suggested');
    // Enter on the item moved on to the quantity.
    expect(document.activeElement).toBe(screen.getByTestId('issue-qty'));
  });

  it('issues by FEFO and shows the lots actually taken', async () => {
    const { user, backend } = await issueScreen();
    await user.selectOptions(screen.getByTestId('issue-department'), 'OR');
    await user.type(screen.getByTestId('issue-item'), '09506000134352{Enter}');
    await waitFor(() => expect(rowsOf('fefo-row')).toHaveLength(4));
    await user.type(screen.getByTestId('issue-qty'), '50{Enter}');
    const banner = await screen.findByTestId('issue-result');
    expect(banner.textContent).toContain('Issue slip CK-S01-000001 posted');
    expect(rowsOf('posted-line').map((r) => [r.dataset.lot, r.dataset.quantity])).toEqual([['L2312', '40'], ['L2402', '10']]);
    const sent = backend.calls.find((c) => c.command === 'post_document')!.args as { request: { lines: { lot: string | null }[]; department: string } };
    expect(sent.request.lines[0].lot).toBeNull();
    expect(sent.request.department).toBe('OR');
  });

  it('offers the manager override on insufficient stock and resubmits with it', async () => {
    const { user, backend } = await issueScreen();
    await user.selectOptions(screen.getByTestId('issue-department'), 'ICU');
    await user.type(screen.getByTestId('issue-item'), '06976520008236{Enter}');
    await waitFor(() => expect(rowsOf('fefo-row')).toHaveLength(2));
    await user.type(screen.getByTestId('issue-qty'), '1000{Enter}');
    const banner = await screen.findByTestId('error-banner');
    expect(banner.dataset.code).toBe('insufficient_stock');
    expect(banner.textContent).toContain('Only 900 of 06976520008236 available at MAIN, 1000 requested.');
    expect(screen.queryByTestId('issue-result')).toBeNull();
    expect(await screen.findByTestId('issue-override')).toBeTruthy();
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('issue-override-manager')));

    // A clerk cannot approve: the core says so and the panel stays.
    await user.keyboard('wangli');
    await user.type(screen.getByTestId('issue-override-reason'), '抢救室急用{Enter}');
    await waitFor(() => expect(screen.getByTestId('error-banner').dataset.code).toBe('override_not_manager'));
    expect(screen.getByTestId('issue-override')).toBeTruthy();

    await user.clear(screen.getByTestId('issue-override-manager'));
    await user.type(screen.getByTestId('issue-override-manager'), 'zhaoqiang');
    await user.click(screen.getByTestId('issue-override-submit'));
    expect((await screen.findByTestId('issue-result')).textContent).toContain('CK-S01-000001');
    expect(screen.queryByTestId('error-banner')).toBeNull();
    expect(screen.queryByTestId('issue-override')).toBeNull();
    const posts = backend.calls.filter((c) => c.command === 'post_document').map((c) => (c.args as { request: { override: unknown } }).request.override);
    expect(posts).toEqual([null, { manager: 'wangli', reason: '抢救室急用' }, { manager: 'zhaoqiang', reason: '抢救室急用' }]);
  });

  it('asks for a department before posting', async () => {
    const { user, backend } = await issueScreen();
    await user.type(screen.getByTestId('issue-item'), '09506000134352{Enter}');
    await user.type(screen.getByTestId('issue-qty'), '3{Enter}');
    expect(await screen.findByText('Choose the receiving department', { selector: '.field-error' })).toBeTruthy();
    expect(backend.calls.some((c) => c.command === 'post_document')).toBe(false);
  });

  it('picks a serial for a serial-tracked item', async () => {
    const { user } = await issueScreen('wangli');
    await user.selectOptions(screen.getByTestId('issue-department'), 'CARD');
    await user.type(screen.getByTestId('issue-item'), '+H724STENT2518Q{Enter}');
    await waitFor(() => expect(rowsOf('fefo-row')).toHaveLength(3));
    expect(screen.queryByTestId('issue-lot')).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('issue-serial')));
    await user.selectOptions(screen.getByTestId('issue-serial'), 'SN23108918');
    expect((screen.getByTestId('issue-qty') as HTMLInputElement).value).toBe('1');
    await user.click(screen.getByTestId('issue-submit'));
    await screen.findByTestId('issue-result');
    expect(rowsOf('posted-line').map((r) => [r.dataset.lot, r.dataset.serial])).toEqual([['B2649973', 'SN23108918']]);
  });
});
