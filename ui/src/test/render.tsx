// Test helpers: the whole app on a FakeBackend, signed in or not.
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../App';
import { BackendContext } from '../api/backend';
import { FakeBackend, type FakeOptions } from '../api/fake';

/**
 * Key times for the scan detector, so that tests do not depend on how fast
 * this machine renders: keys come `gapMs` apart (2 ms, scanner speed, unless
 * a test types at a person's pace).
 */
export class KeyClock {
  now = 0;
  gapMs = 2;
  time = () => (this.now += this.gapMs);
}

export function renderApp(options: FakeOptions = {}) {
  const backend = new FakeBackend(options);
  const user = userEvent.setup();
  const keys = new KeyClock();
  const view = render(
    <BackendContext.Provider value={backend}>
      <App scanKeyTime={keys.time} />
    </BackendContext.Provider>,
  );
  return { backend, user, keys, ...view };
}

/** Starts the app and picks `username` in the chooser (alice: the English-speaking clerk). */
export async function signedIn(username = 'alice', options: FakeOptions = {}) {
  const app = renderApp(options);
  await app.user.click(await screen.findByTestId(`user-option-${username}`));
  await screen.findByTestId('nav-stock');
  return app;
}

export async function openScreen(user: ReturnType<typeof userEvent.setup>, name: 'stock' | 'receive' | 'issue' | 'transfer' | 'movements' | 'stocktake' | 'printers' | 'coldchain' | 'devices' | 'sync') {
  await user.click(screen.getByTestId(`nav-${name}`));
}

export function rowsOf(testId: string) {
  return screen.queryAllByTestId(testId);
}
