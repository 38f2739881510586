import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { BackendContext, isTauri, TauriBackend } from './api/backend';
import { FakeBackend } from './api/fake';
import './styles.css';

// Outside the Tauri webview (a plain browser preview) the in-memory fake serves.
const backend = isTauri() ? new TauriBackend() : new FakeBackend({ latencyMs: 120 });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <BackendContext.Provider value={backend}>
      <App />
    </BackendContext.Provider>
  </StrictMode>,
);
