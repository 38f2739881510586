// Small building blocks shared by the screens: banners, labelled fields, the
// item code field (resolves on Enter or blur, the way a scanner "types"), the
// spinner, and the Enter-submits rule for forms.
import { useRef, useState, type KeyboardEvent, type ReactNode, type RefObject, type SelectHTMLAttributes } from 'react';
import type { ApiError } from './bindings/ApiError';
import type { DocumentView } from './bindings/DocumentView';
import type { ItemView } from './bindings/ItemView';
import { asApiError, useBackend } from './api/backend';
import { formatQuantity, pick } from './format';
import { useI18n } from './i18n';
import { DocumentPrintBar } from './printing';

export function ErrorBanner({ error, onDismiss }: { error: ApiError | null; onDismiss: () => void }) {
  const { t } = useI18n();
  return (
    // The live region stays in the page so screen readers announce new errors.
    <div role="alert" aria-live="assertive" className="live-region">
      {error ? (
        <div className="banner banner-error" data-testid="error-banner" data-code={error.code}>
          <span className="banner-icon" aria-hidden="true">!</span>
          <span className="banner-text">{error.message}</span>
          <button type="button" className="banner-close" data-testid="error-dismiss" onClick={onDismiss} aria-label={t('dismiss')} title={t('dismiss')}>
            ×
          </button>
        </div>
      ) : null}
    </div>
  );
}

/** A posted document: its number in a sentence, the lines as the core allocated them, and its preview and printing. */
export function ResultBanner({ testId, title, document, onDismiss }: { testId: string; title: string; document: DocumentView | null; onDismiss: () => void }) {
  const { t, lang } = useI18n();
  return (
    <div role="status" aria-live="polite" className="live-region">
      {document ? (
        <div className="banner banner-ok" data-testid={testId} data-number={document.number ?? ''}>
          <div className="banner-head">
            <span className="banner-icon" aria-hidden="true">✓</span>
            <strong className="banner-text">{title}</strong>
            <button type="button" className="banner-close" onClick={onDismiss} aria-label={t('dismiss')} title={t('dismiss')}>×</button>
          </div>
          <table className="mini">
            <thead>
              <tr><th>#</th><th>{t('code')}</th><th>{t('name')}</th><th>{t('lot')}</th><th>{t('expiry')}</th><th>{t('serial')}</th><th className="num">{t('quantity')}</th></tr>
            </thead>
            <tbody>
              {document.lines.map((l) => (
                <tr key={l.line_no} data-testid="posted-line" data-lot={l.lot ?? ''} data-serial={l.serial ?? ''} data-quantity={l.quantity}>
                  <td className="num">{l.line_no}</td>
                  <td className="mono">{l.item}</td>
                  <td>{pick(lang, l.item_name, l.item_name_en)}</td>
                  <td className="mono">{l.lot ?? '—'}</td>
                  <td className="mono">{l.expiry ?? '—'}</td>
                  <td className="mono">{l.serial ?? ''}</td>
                  <td className="num">{formatQuantity(l.quantity)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {document.number ? <DocumentPrintBar key={document.id} document={document} /> : null}
        </div>
      ) : null}
    </div>
  );
}

export function Field({ label, children, hint, wide, narrow }: { label: string; children: ReactNode; hint?: ReactNode; wide?: boolean; narrow?: boolean }) {
  return (
    <label className={`field${wide ? ' field-wide' : ''}${narrow ? ' field-narrow' : ''}`}>
      <span className="field-label">{label}</span>
      {children}
      <span className="field-hint">{hint ?? '\u00a0'}</span>
    </label>
  );
}

/**
 * Enter submits the form from any field, selects included (browsers submit
 * only from text inputs). Fields that handle Enter themselves call preventDefault.
 */
export function enterSubmits(e: KeyboardEvent<HTMLFormElement>) {
  if (e.key !== 'Enter' || e.defaultPrevented || e.nativeEvent.isComposing) return;
  if (e.target instanceof HTMLSelectElement) {
    e.preventDefault();
    e.currentTarget.requestSubmit();
  }
}

/**
 * Moves focus to the element with this data-testid once it is on screen: the
 * element may appear only with the render that the current state change
 * causes (a serial select, the override panel), so it retries briefly.
 */
export function focusTestId(testId: string, select = false) {
  let tries = 0;
  const attempt = () => {
    const element = document.querySelector<HTMLInputElement | HTMLSelectElement>(`[data-testid="${testId}"]`);
    if (element && !element.disabled) {
      element.focus();
      if (select && element instanceof HTMLInputElement) element.select();
    } else if (++tries < 20) {
      setTimeout(attempt, 25);
    }
  };
  setTimeout(attempt, 0);
}

/**
 * The item code input: Enter or leaving the field looks the code up with
 * find_item (any identifier: GTIN-14/13, HIBC, internal code). A code the
 * core does not know shows its message and, when search_items finds
 * something close, a few items to pick instead.
 */
export function ItemField({
  testId, value, onChange, item, onItem, onResolved, onError, inputRef, autoFocus,
}: {
  testId: string;
  value: string;
  onChange: (value: string) => void;
  item: ItemView | null;
  onItem: (item: ItemView | null) => void;
  /** Called once the code is resolved; `viaEnter` when the user pressed Enter (move on). */
  onResolved?: (item: ItemView, viaEnter: boolean) => void;
  onError?: (error: unknown) => void;
  inputRef?: RefObject<HTMLInputElement | null>;
  autoFocus?: boolean;
}) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [suggestions, setSuggestions] = useState<ItemView[]>([]);
  const [busy, setBusy] = useState(false);
  const asked = useRef(0);

  const accept = (found: ItemView, viaEnter: boolean) => {
    setProblem(null);
    setSuggestions([]);
    onItem(found);
    onResolved?.(found, viaEnter);
  };

  const resolve = async (viaEnter: boolean) => {
    const code = value.trim();
    if (!code) { onItem(null); setProblem(null); setSuggestions([]); return; }
    if (item && (item.code === code || item.identifiers.includes(code))) { onResolved?.(item, viaEnter); return; }
    const ticket = ++asked.current;
    setBusy(true);
    try {
      const found = await backend.findItem(code);
      if (ticket === asked.current) accept(found, viaEnter);
    } catch (error) {
      if (ticket !== asked.current) return;
      const apiError = asApiError(error);
      onItem(null);
      if (apiError.code !== 'unknown_item') { setProblem(null); onError?.(error); return; }
      setProblem(apiError);
      if (viaEnter) inputRef?.current?.select();
      try {
        const near = await backend.searchItems(code, 5);
        if (ticket === asked.current) setSuggestions(near);
      } catch {
        if (ticket === asked.current) setSuggestions([]);
      }
    } finally {
      if (ticket === asked.current) setBusy(false);
    }
  };

  const hint = item ? (
    <span className="item-found" data-testid={`${testId}-name`}>
      <span className="item-name">{pick(lang, item.name, item.name_en)}</span>
      {item.specification ? <span className="item-spec">{item.specification}</span> : null}
      <span className="item-unit">{t('unitIs', { unit: item.unit })}</span>
      {item.serialized ? <span className="tag">{t('tagSerial')}</span> : null}
      {item.implantable ? <span className="tag">{t('tagImplant')}</span> : null}
      {item.cold_chain ? <span className="tag tag-cold">{t('tagCold', { min: item.min_temp_c ?? '', max: item.max_temp_c ?? '' })}</span> : null}
    </span>
  ) : problem ? (
    <span className="field-error" data-testid={`${testId}-error`} data-code={problem.code}>{problem.message}</span>
  ) : busy ? t('lookingUp') : t('itemHint');

  return (
    <div className="item-field">
      <Field label={t('item')} hint={hint} wide>
        <input
          ref={inputRef}
          data-testid={testId}
          autoFocus={autoFocus}
          value={value}
          className={problem ? 'invalid mono' : 'mono'}
          aria-invalid={problem ? true : undefined}
          placeholder={t('itemPlaceholder')}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => {
            onChange(e.target.value);
            if (item) onItem(null);
            if (problem) setProblem(null);
            if (suggestions.length) setSuggestions([]);
          }}
          onBlur={() => void resolve(false)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.nativeEvent.isComposing) { e.preventDefault(); void resolve(true); }
          }}
        />
      </Field>
      {problem && suggestions.length > 0 ? (
        <div className="suggestions" data-testid={`${testId}-suggestions`}>
          <span className="muted">{t('didYouMean')}</span>
          {suggestions.map((s) => (
            <button
              key={s.code}
              type="button"
              className="suggestion"
              data-testid={`${testId}-suggestion-${s.code}`}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => { onChange(s.code); accept(s, true); }}
            >
              <span className="mono">{s.code}</span> {pick(lang, s.name, s.name_en)} <span className="muted">{s.specification}</span>
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}

/**
 * A select that exists under its test id only once its options have loaded,
 * so whoever waits for the element (a person, WebDriver) finds its options too.
 */
export function LoadedSelect({ loaded, children, ...props }: { loaded: boolean } & SelectHTMLAttributes<HTMLSelectElement> & { 'data-testid': string }) {
  const { t } = useI18n();
  if (!loaded) {
    return <select key="loading" disabled aria-busy="true" className={props.className}><option>{t('loading')}</option></select>;
  }
  return <select key="loaded" {...props}>{children}</select>;
}

export function Spinner({ label }: { label?: string }) {
  const { t } = useI18n();
  return <span className="spinner" role="status" aria-label={label ?? t('loading')} data-testid="spinner" />;
}
