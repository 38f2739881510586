import { describe, expect, it } from 'vitest';
import { act, screen, waitFor, within } from '@testing-library/react';
import { openScreen, signedIn } from '../test/render';
import { FAKE_ENROLMENT_CODE } from '../api/fakeSync';

const GLUCOSE = '06958841004890';

async function issueGlucose(username = 'alice') {
  const app = await signedIn(username);
  await openScreen(app.user, 'issue');
  await waitFor(() => expect((screen.getByTestId('issue-location') as HTMLSelectElement).options.length).toBeGreaterThan(1));
  await app.user.selectOptions(screen.getByTestId('issue-location'), 'COLD');
  await app.user.selectOptions(screen.getByTestId('issue-department'), 'ICU');
  await app.user.type(screen.getByTestId('issue-item'), `${GLUCOSE}{Enter}`);
  await app.user.type(screen.getByTestId('issue-qty'), '2{Enter}');
  return app;
}

describe('the temperature gate', () => {
  it('asks for the measured temperature, records it in the clerk\'s name and posts the issue', async () => {
    const { user, backend } = await issueGlucose();
    const dialog = await screen.findByTestId('temperature-gate');
    expect(dialog.textContent).toContain('no temperature reading in the last 15 minutes');
    // Not a temperature: said so, nothing recorded.
    await user.type(within(dialog).getByTestId('temperature-gate-input'), 'warm{Enter}');
    expect(dialog.textContent).toContain('Type a temperature');
    expect(backend.calls.some((c) => c.command === 'record_manual_reading')).toBe(false);
    await user.clear(within(dialog).getByTestId('temperature-gate-input'));
    await user.type(within(dialog).getByTestId('temperature-gate-input'), '4.8{Enter}');
    expect((await screen.findByTestId('issue-result')).textContent).toContain('CK-S01-000001');
    expect(screen.queryByTestId('temperature-gate')).toBeNull();
    const readings = await backend.readings('COLD', 1);
    expect(readings.at(-1)).toMatchObject({ temperature_c: 4.8, source: 'manual' });
  });

  it('refuses an out-of-range temperature clearly and issues nothing', async () => {
    const { user, backend } = await issueGlucose();
    const dialog = await screen.findByTestId('temperature-gate');
    await user.type(within(dialog).getByTestId('temperature-gate-input'), '11.5{Enter}');
    const refused = await screen.findByTestId('temperature-gate-refused');
    expect(refused.textContent).toContain('Out of range');
    expect(refused.textContent).toContain('11.5 °C, outside 2–8 °C');
    expect(screen.queryByTestId('issue-result')).toBeNull();
    expect((await backend.movements({ kinds: [], item: null, location: null, limit: 100, newest_first: true } as never)).some((m) => m.kind === 'issue')).toBe(false);
    await user.click(within(dialog).getByTestId('temperature-gate-cancel'));
    expect(screen.queryByTestId('temperature-gate')).toBeNull();
  });
});

describe('the cold chain screen', () => {
  it('shows the alarm everywhere, the unit\'s stock quarantined, and a manager releases it with a reason', async () => {
    const { user, backend } = await signedIn('zhaoqiang');
    await act(async () => { backend.coldchain.warm('COLD', 12.6); });
    const alarm = await screen.findByTestId('coldchain-alarm');
    expect(alarm.textContent).toContain('COLD');
    expect(screen.getByTestId('nav-coldchain-alarm').textContent).toBe('1');
    await user.click(within(alarm).getByTestId('coldchain-alarm-open'));
    const unit = await screen.findByTestId('cold-unit-COLD');
    await waitFor(() => expect(unit.dataset.alarm).toBe('open'));
    expect(unit.dataset.available).toBe('0');
    expect(Number(unit.dataset.quarantined)).toBe(15);
    expect(screen.getByTestId('cold-temp-COLD').textContent).toBe('12.6 °C');
    expect(screen.getByTestId('cold-chart-COLD').dataset.points).not.toBe('0');
    // A reason is required.
    await user.click(screen.getByTestId('resolve-release-COLD'));
    expect(unit.textContent).toContain('请填写原因');
    await user.type(screen.getByTestId('resolve-reason-COLD'), 'probe on the door; product checked{Enter}');
    await waitFor(() => expect(screen.getByTestId('cold-unit-COLD').dataset.alarm).toBe('none'));
    expect(screen.getByTestId('cold-unit-COLD').dataset.available).toBe('15');
    await waitFor(() => expect(screen.queryByTestId('coldchain-alarm')).toBeNull());
  });

  it('shows an excursion reopened by a sync, with why, and a manager judges it again', async () => {
    const { user, backend } = await signedIn('zhaoqiang');
    await act(async () => { backend.coldchain.warm('COLD', 12.6); });
    await openScreen(user, 'coldchain');
    await user.type(await screen.findByTestId('resolve-reason-COLD'), 'probe on the door{Enter}');
    await waitFor(() => expect(screen.getByTestId('cold-unit-COLD').dataset.alarm).toBe('none'));
    expect(screen.queryByTestId('excursion-reopened-COLD')).toBeNull();
    // A sync round pulls the compensation: the screen reads the units again.
    await backend.enrolWorkstation('https://server.hospital:8443', FAKE_ENROLMENT_CODE, null);
    backend.sync.arrive(2, () => backend.coldchain.reopenFromSync('COLD'));
    await act(async () => { await backend.sync.round(); });
    const reopened = await screen.findByTestId('excursion-reopened-COLD');
    expect(reopened.textContent).toContain('另一工作站在不知道此超标的情况下放行了它扣留的库存');
    expect(reopened.textContent).toContain('probe on the door');
    expect(screen.getByTestId('cold-unit-COLD').dataset.alarm).toBe('open');
    await user.type(screen.getByTestId('resolve-reason-COLD'), 'judged again{Enter}');
    await waitFor(() => expect(screen.getByTestId('cold-unit-COLD').dataset.alarm).toBe('none'));
  });

  it('offers a clerk no release', async () => {
    const { user, backend } = await signedIn('alice');
    await act(async () => { backend.coldchain.warm('COLD', 10); });
    await openScreen(user, 'coldchain');
    const unit = await screen.findByTestId('cold-unit-COLD');
    await waitFor(() => expect(unit.dataset.alarm).toBe('open'));
    expect(screen.queryByTestId('resolve-release-COLD')).toBeNull();
    expect(unit.textContent).toContain('Only a manager');
  });
});

describe('serial scans in the app', () => {
  it('reach the screen that takes scans like wedge scans', async () => {
    const { user, backend } = await signedIn('alice');
    await openScreen(user, 'receive');
    await act(async () => { backend.coldchain.serialScan('\u005dd2010950600013435217270131\u001d10SERIAL-L1'); });
    const message = await screen.findByTestId('scan-feedback-message');
    expect(message.textContent).toContain('SERIAL-L1');
    expect(await backend.pendingSerialScans()).toEqual([]);
  });
});
