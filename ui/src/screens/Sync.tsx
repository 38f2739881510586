// 同步: the workstation's link with the hospital server. Not enrolled, who
// may edit master data enrols it (server address + one-time code, and the
// hospital's CA certificate file when it runs its own CA); then the status
// (server, which certificates it trusts, last success, what waits to be sent,
// the last error in plain words), the CA replaced without a new enrolment,
// "sync now" with a long round's progress, and what a manager
// settles after merging: keys below zero (with the movements involved and
// what to do), conflicts (stored vs incoming), safety fields edited on two
// workstations at once, duplicate codes, counts with another workstation's
// movements within the clock-skew window, movements corrected twice, and
// movements stamped far ahead of this clock.
import { useCallback, useEffect, useState, type ChangeEvent, type FormEvent } from 'react';
import type { CaCertificateFile } from '../bindings/CaCertificateFile';
import type { SyncReview } from '../bindings/SyncReview';
import type { SyncTrust } from '../bindings/SyncTrust';
import { useBackend } from '../api/backend';
import { Field, Spinner } from '../components';
import { formatQuantity, localTime, signedQuantity } from '../format';
import { KIND_TEXT, useI18n, type TextKey } from '../i18n';
import type { MovementKind } from '../bindings/MovementKind';
import { SyncProgressBar, useSync, type SyncStore } from '../sync';
import {
  ago, caFileProblem, concernsCa, enrolProblem, entityText, hlcMs, isCaFileError, needsEnrolAgain, prettyJson, reviewCount, shortId, summarize,
  TRUST_TEXT, valueInForce,
} from '../syncRules';
import type { Screen } from '../App';

const clock = (ms: number) => new Date(ms).toLocaleString('sv-SE').slice(0, 19);

/** The error's code and words, when it is the app's `{code, message}`. */
function apiError(error: unknown): { code: string; message: string } | null {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e && typeof e.code === 'string' && typeof e.message === 'string' ? { code: e.code, message: e.message } : null;
}

/**
 * A file button for a CA certificate, read in the page as the cold chain
 * screen reads a logger's CSV (Tauri has no file dialog here): an empty or
 * too large file is refused before it is read; the app checks what it holds.
 */
function CaFileButton({ testId, label, onPicked, onProblem }: {
  testId: string; label: string; onPicked: (ca: CaCertificateFile) => void; onProblem: (message: string) => void;
}) {
  const { t } = useI18n();
  const pick = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    const problem = caFileProblem(file);
    if (problem) { onProblem(t(problem.key, problem.values)); return; }
    try {
      onPicked({ name: file.name, text: await file.text() });
    } catch (error) {
      onProblem(String(error));
    }
  };
  return (
    <label className="file-button">
      <span>{label}</span>
      <input type="file" accept=".pem,.crt,.cer,application/x-pem-file,application/x-x509-ca-cert" data-testid={testId} onChange={(e) => void pick(e)} />
    </label>
  );
}

function EnrolForm({ again, onEnrolled, onError }: { again: boolean; onEnrolled: (url: string) => void; onError: (e: unknown) => void }) {
  const backend = useBackend();
  const { t } = useI18n();
  const [url, setUrl] = useState('');
  const [code, setCode] = useState('');
  const [ca, setCa] = useState<CaCertificateFile | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [caProblem, setCaProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const refused = enrolProblem(url, code, ca !== null);
    const [field, other] = refused?.key === 'enrolCaNeedsHttps' ? [setCaProblem, setProblem] : [setProblem, setCaProblem];
    field(refused ? t(refused.key, refused.values) : null);
    other(null);
    if (refused) return;
    setBusy(true);
    try {
      await backend.enrolWorkstation(url.trim(), code.trim(), ca);
      setCode('');
      onEnrolled(url.trim());
    } catch (error) {
      const refusal = apiError(error);
      // A file that is not a CA certificate is said at the file, where another is chosen.
      if (refusal && isCaFileError(refusal.code)) setCaProblem(refusal.message);
      else onError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel sync-enrol" data-testid="sync-enrol" onSubmit={(e) => void submit(e)} noValidate>
      <h2>{again ? t('enrolAgain') : t('enrolTitle')}</h2>
      <p className="muted">{t('enrolIntro')}</p>
      <div className="form-row">
        <Field label={t('enrolUrl')} hint={t('enrolUrlHint')} wide>
          <input data-testid="sync-enrol-url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://" autoComplete="off" spellCheck={false} autoFocus={!again} />
        </Field>
        <Field label={t('enrolCode')} hint={problem ? <span className="field-error">{problem}</span> : undefined}>
          <input data-testid="sync-enrol-code" className="mono" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" spellCheck={false} />
        </Field>
      </div>
      <div className="field field-wide sync-ca-field" data-testid="sync-enrol-ca-field" data-file={ca?.name ?? ''}>
        <span className="field-label">{t('enrolCa')}</span>
        <div className="row sync-ca-row">
          <CaFileButton testId="sync-enrol-ca" label={ca ? t('enrolCaOther') : t('enrolCaChoose')}
            onPicked={(picked) => { setCa(picked); setCaProblem(null); }} onProblem={(message) => { setCa(null); setCaProblem(message); }} />
          {ca ? (
            <>
              <span className="mono" data-testid="sync-enrol-ca-name">{ca.name}</span>
              <button type="button" data-testid="sync-enrol-ca-remove" onClick={() => { setCa(null); setCaProblem(null); }}>{t('enrolCaRemove')}</button>
            </>
          ) : null}
        </div>
        <span className="field-hint">
          {caProblem ? <span className="field-error" data-testid="sync-enrol-ca-error" role="alert">{caProblem}</span> : t('enrolCaHint')}
        </span>
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" data-testid="sync-enrol-submit" disabled={busy}>{t('enrolSubmit')}</button>
        {busy ? <Spinner /> : null}
      </div>
    </form>
  );
}

/** Which CA the link trusts, and a new one in its place (who may enrol; the hospital renewed it) without enrolling again. */
function CaPanel({ trust, attention, onReplaced, onError }: {
  trust: SyncTrust; attention: boolean; onReplaced: (name: string) => void; onError: (e: unknown) => void;
}) {
  const backend = useBackend();
  const { t } = useI18n();
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const replace = async (ca: CaCertificateFile) => {
    setProblem(null);
    setBusy(true);
    try {
      await backend.replaceSyncCa(ca);
      onReplaced(ca.name);
    } catch (error) {
      const refusal = apiError(error);
      if (refusal && isCaFileError(refusal.code)) setProblem(refusal.message);
      else onError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className={`panel sync-ca${attention ? ' sync-ca-attention' : ''}`} data-testid="sync-ca" data-trust={trust} data-attention={attention}>
      <h2>{t('caTitle')}</h2>
      <p className="muted">{t(trust === 'hospital_ca' ? 'caIntroOwn' : 'caIntroSystem')}</p>
      <div className="row sync-ca-row">
        <CaFileButton testId="sync-ca-file" label={t(trust === 'hospital_ca' ? 'caReplace' : 'caAdd')} onPicked={(ca) => void replace(ca)} onProblem={setProblem} />
        {busy ? <Spinner /> : null}
      </div>
      {problem ? <p className="field-error" data-testid="sync-ca-error" role="alert">{problem}</p> : null}
    </section>
  );
}

function Section({ id, title, what, count, children }: { id: string; title: string; what: string; count: number; children: React.ReactNode }) {
  if (count === 0) return null;
  return (
    <section className="panel sync-section" data-testid={`sync-section-${id}`} data-count={count}>
      <h3>{title}</h3>
      <p className="sync-what">{what}</p>
      {children}
    </section>
  );
}

function kindText(kind: string, t: (key: TextKey) => string) {
  const key = KIND_TEXT[kind as MovementKind];
  return key ? t(key) : kind;
}

function Review({ review, onGo }: { review: SyncReview; onGo: (screen: Screen) => void }) {
  const { t } = useI18n();
  return (
    <>
      <Section id="exceptions" title={t('exceptionsTitle', { count: review.exceptions.length })} what={t('exceptionsWhat')} count={review.exceptions.length}>
        <table className="grid sync-table">
          <thead>
            <tr><th>{t('code')}</th><th>{t('lot')}</th><th>{t('serial')}</th><th>{t('location')}</th><th className="num">{t('quantity')}</th><th>{t('exceptionMovements')}</th></tr>
          </thead>
          <tbody>
            {review.exceptions.map((x) => (
              <tr key={`${x.item}|${x.lot}|${x.serial}|${x.location}|${x.status}`} data-testid="sync-exception" data-item={x.item} data-lot={x.lot} data-location={x.location} data-quantity={x.quantity}>
                <td className="mono">{x.item}</td>
                <td className="mono">{x.lot || '—'}</td>
                <td className="mono">{x.serial}</td>
                <td className="mono">{x.location}</td>
                <td className="num negative">{formatQuantity(x.quantity)}</td>
                <td>
                  <ul className="sync-movements">
                    {x.movements.map((m) => (
                      <li key={m.id} data-testid="sync-exception-movement" data-document={m.document_number ?? ''}>
                        {kindText(m.kind, t)} <b className="num">{signedQuantity(m.quantity, m.kind === 'count')}</b>
                        {m.document_number ? <> · <span className="mono">{m.document_number}</span></> : null}
                        <span className="muted">
                          {m.user ? ` · ${m.user}` : ''}{m.recorded_at ? ` · ${localTime(m.recorded_at)}` : ''} · {t('node')} <span className="mono" title={m.node}>{shortId(m.node)}</span>
                        </span>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="form-actions">
          <button type="button" data-testid="sync-go-stocktake" onClick={() => onGo('stocktake')}>{t('exceptionStocktake')}</button>
          <button type="button" data-testid="sync-go-movements" onClick={() => onGo('movements')}>{t('exceptionMovementsOpen')}</button>
        </div>
      </Section>
      <Section id="conflicts" title={t('conflictsTitle', { count: review.conflicts.length })} what={t('conflictsWhat')} count={review.conflicts.length}>
        <table className="grid sync-table">
          <thead>
            <tr><th>{t('conflictKind')}</th><th>{t('conflictKey')}</th><th>{t('conflictOrigin')}</th><th>{t('conflictStored')}</th><th>{t('conflictIncoming')}</th></tr>
          </thead>
          <tbody>
            {review.conflicts.map((c) => (
              <tr key={`${c.kind}|${c.key}|${c.incoming}`} data-testid="sync-conflict" data-kind={c.kind}>
                <td>{c.kind}</td>
                <td className="mono" title={c.key}>{c.key.slice(0, 16)}</td>
                <td className="mono" title={c.origin ?? ''}>{shortId(c.origin)}</td>
                <td><pre className="sync-json">{prettyJson(c.stored)}</pre></td>
                <td><pre className="sync-json">{prettyJson(c.incoming)}</pre></td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section id="safety" title={t('safetyTitle', { count: review.safety_edits.length })} what={t('safetyWhat')} count={review.safety_edits.length}>
        <table className="grid sync-table">
          <thead>
            <tr><th>{t('conflictKind')}</th><th>{t('code')}</th><th>{t('safetyField')}</th><th>{t('safetyValues')}</th></tr>
          </thead>
          <tbody>
            {review.safety_edits.map((s) => {
              const current = valueInForce(s.values);
              return (
                <tr key={`${s.entity}|${s.code}|${s.field}`} data-testid="sync-safety" data-code={s.code} data-field={s.field}>
                  <td>{entityText(s.entity, t)}</td>
                  <td className="mono">{s.code}</td>
                  <td className="mono">{s.field}</td>
                  <td>
                    <ul className="sync-movements">
                      {s.values.map((v) => (
                        <li key={`${v.hlc}|${v.node}`}>
                          <b className="mono">{v.value}</b>
                          <span className="muted"> · {t('node')} <span className="mono">{shortId(v.node)}</span> · {clock(hlcMs(v.hlc))}</span>
                          {v === current ? <span className="pill sync-current" data-testid="sync-safety-current">{t('safetyCurrent')}</span> : null}
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Section>
      <Section id="duplicates" title={t('duplicatesTitle', { count: review.duplicate_codes.length })} what={t('duplicatesWhat')} count={review.duplicate_codes.length}>
        <table className="grid sync-table">
          <thead>
            <tr><th>{t('conflictKind')}</th><th>{t('code')}</th><th>{t('duplicateHolders')}</th></tr>
          </thead>
          <tbody>
            {review.duplicate_codes.map((d) => (
              <tr key={`${d.entity}|${d.code}`} data-testid="sync-duplicate" data-code={d.code}>
                <td>{entityText(d.entity, t)}</td>
                <td className="mono">{d.code}</td>
                <td className="mono">{d.holders.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section id="ambiguous" title={t('ambiguousTitle', { count: review.ambiguous_counts.length })} what={t('ambiguousWhat')} count={review.ambiguous_counts.length}>
        <table className="grid sync-table">
          <thead>
            <tr><th>{t('code')}</th><th>{t('lot')}</th><th>{t('location')}</th><th>{t('ambiguousCounted')}</th><th className="num">{t('ambiguousNow')}</th><th>{t('ambiguousNear')}</th></tr>
          </thead>
          <tbody>
            {review.ambiguous_counts.map((c) => (
              <tr key={c.count_id} data-testid="sync-ambiguous" data-item={c.item} data-lot={c.lot} data-location={c.location} data-counted={c.counted}>
                <td className="mono">{c.item}</td>
                <td className="mono">{c.lot || c.serial || '—'}</td>
                <td className="mono">{c.location}</td>
                <td>
                  <b className="num">{formatQuantity(c.counted)}</b>
                  {c.document_number ? <> · <span className="mono">{c.document_number}</span></> : null}
                  <span className="muted"> · {clock(c.counted_at_ms)} · {t('node')} <span className="mono" title={c.node}>{shortId(c.node)}</span></span>
                </td>
                <td className="num">{formatQuantity(c.balance)}</td>
                <td>
                  <ul className="sync-movements">
                    {c.movements.map((m) => (
                      <li key={m.id} data-testid="sync-ambiguous-movement">
                        {kindText(m.kind, t)} <b className="num">{signedQuantity(m.quantity, m.kind === 'count')}</b>
                        {m.document_number ? <> · <span className="mono">{m.document_number}</span></> : null}
                        <span className="muted"> · {t(m.offset_ms < 0 ? 'ambiguousBefore' : 'ambiguousAfter', { s: String(Math.round(Math.abs(m.offset_ms) / 1000)) })} · {t('node')} <span className="mono" title={m.node}>{shortId(m.node)}</span></span>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="form-actions">
          <button type="button" data-testid="sync-ambiguous-stocktake" onClick={() => onGo('stocktake')}>{t('exceptionStocktake')}</button>
        </div>
      </Section>
      <Section id="double" title={t('doubleTitle', { count: review.double_corrections.length })} what={t('doubleWhat')} count={review.double_corrections.length}>
        <table className="grid sync-table">
          <thead>
            <tr><th>{t('doubleCorrected')}</th><th>{t('doubleBy')}</th></tr>
          </thead>
          <tbody>
            {review.double_corrections.map((d) => (
              <tr key={d.corrected} data-testid="sync-double" data-corrected={d.corrected}>
                <td className="mono" title={d.corrected}>{shortId(d.corrected)}</td>
                <td className="mono">{d.corrections.map((c) => <span key={c} title={c}>{shortId(c)} </span>)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="form-actions">
          <button type="button" data-testid="sync-double-movements" onClick={() => onGo('movements')}>{t('exceptionMovementsOpen')}</button>
        </div>
      </Section>
      <Section id="future" title={t('futureTitle', { count: review.future_movements.length })} what={t('futureWhat')} count={review.future_movements.length}>
        <table className="grid sync-table">
          <thead>
            <tr><th>{t('futureStamped')}</th><th>{t('conflictKind')}</th><th className="num">{t('quantity')}</th><th>{t('node')}</th></tr>
          </thead>
          <tbody>
            {review.future_movements.map((m) => (
              <tr key={m.id} data-testid="sync-future" data-kind={m.kind}>
                <td>{localTime(m.stamped_at)}</td>
                <td>{kindText(m.kind, t)}</td>
                <td className="num">{signedQuantity(m.quantity, m.kind === 'count')}</td>
                <td className="mono" title={m.node}>{shortId(m.node)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

export function SyncScreen({ store, mayEnrol, onGo, onError }: {
  store: SyncStore; mayEnrol: boolean; onGo: (screen: Screen) => void; onError: (e: unknown) => void;
}) {
  const backend = useBackend();
  const sync = useSync(store);
  const { t } = useI18n();
  const [review, setReview] = useState<SyncReview | null>(null);
  // Kept as words to say, so it follows a language switch.
  const [notice, setNotice] = useState<{ key: TextKey; values: Record<string, string> } | null>(null);
  const status = sync.status;
  const loadReview = useCallback(() => { backend.syncReview().then(setReview, onError); }, [backend, onError]);
  useEffect(() => { loadReview(); return backend.onSyncApplied(() => loadReview()); }, [backend, loadReview]);
  // A round that ended may have changed the lists (a push's conflicts too).
  const lastRound = status?.last_round?.at_ms ?? null;
  useEffect(() => { if (lastRound !== null) loadReview(); }, [lastRound, loadReview]);

  const syncNow = async () => {
    try {
      await backend.syncNow();
      setNotice({ key: 'syncStarted', values: {} });
    } catch (error) {
      onError(error);
    }
  };
  const summary = summarize(status, sync.nowMs, t);
  const refusedLink = needsEnrolAgain(status?.error?.code);

  return (
    <section className="screen sync-screen" aria-labelledby="sync-title">
      <div className="toolbar">
        <h1 id="sync-title">{t('syncTitle')}</h1>
        {status?.enrolled ? (
          <button type="button" className="primary" data-testid="sync-now" onClick={() => void syncNow()} disabled={status.running}>⟳ {t('syncNow')}</button>
        ) : null}
        {status?.running ? <Spinner /> : null}
      </div>
      <p className="muted">{t('syncIntro')}</p>
      {!status ? <Spinner /> : !status.enrolled ? (
        mayEnrol ? <EnrolForm again={false} onEnrolled={(url) => { setNotice({ key: 'enrolDone', values: { url } }); sync.refresh(); }} onError={onError} />
          : <p className="panel" data-testid="sync-enrol-forbidden">{t('enrolOnlyAdmins')}</p>
      ) : (
        <div className="panel sync-card" data-testid="sync-card" data-tone={summary.tone}>
          <dl className="sync-facts">
            <dt>{t('syncServer')}</dt><dd className="mono" data-testid="sync-server">{status.server_url}</dd>
            {status.trust ? <><dt>{t('syncTrustLabel')}</dt><dd data-testid="sync-trust" data-trust={status.trust}>{t(TRUST_TEXT[status.trust])}</dd></> : null}
            <dt>{t('syncLastSuccess')}</dt>
            <dd data-testid="sync-last-success">{status.last_success_ms !== null ? `${ago(status.last_success_ms, sync.nowMs, t)} (${clock(status.last_success_ms)})` : t('syncNever')}</dd>
            <dt>{t('syncPendingLabel')}</dt><dd data-testid="sync-pending">{formatQuantity(status.pending)}</dd>
          </dl>
          <p data-testid="sync-state" className={`sync-state sync-${summary.tone}`}>
            {summary.text}
            {status.last_round && summary.tone === 'ok' ? (
              <span className="muted" data-testid="sync-last-round"> · {t('syncLastRound', { time: clock(status.last_round.at_ms).slice(11), pushed: formatQuantity(status.last_round.pushed), pulled: formatQuantity(status.last_round.pulled) })}
                {status.last_round.snapshot_balances !== null ? t('syncSnapshot', { count: formatQuantity(status.last_round.snapshot_balances) }) : null}</span>
            ) : null}
          </p>
          {status.last_round && status.last_round.own_events_back > 0 ? (
            <div className="banner banner-warning" data-testid="sync-own-back" role="status">
              <span className="banner-text">{t('syncOwnBack', { count: formatQuantity(status.last_round.own_events_back) })}</span>
            </div>
          ) : null}
          {status.error ? (
            <div className={status.error.offline ? 'banner banner-warn' : 'banner banner-error'} data-testid="sync-error" data-code={status.error.code}>
              <span className="banner-text">{status.error.message}</span>
              {status.next_attempt_ms !== null && !status.running ? <span className="muted"> · {t('syncNextAttempt', { time: clock(status.next_attempt_ms).slice(11) })}</span> : null}
            </div>
          ) : null}
          <SyncProgressBar sync={sync} />
        </div>
      )}
      {notice ? <p className="notice" data-testid="sync-notice" role="status">{t(notice.key, notice.values)}</p> : null}
      {status?.enrolled && mayEnrol && status.trust && status.trust !== 'plain_http' ? (
        <CaPanel trust={status.trust} attention={concernsCa(status.error?.code)} onError={onError}
          onReplaced={(name) => { setNotice({ key: 'caReplaced', values: { name } }); sync.refresh(); }} />
      ) : null}
      {status?.enrolled && refusedLink && mayEnrol ? <EnrolForm again onEnrolled={(url) => { setNotice({ key: 'enrolDone', values: { url } }); sync.refresh(); }} onError={onError} /> : null}
      {status?.enrolled ? (
        <div className="sync-review" data-testid="sync-review" data-count={reviewCount(review)}>
          <div className="toolbar">
            <h2>{t('reviewTitle')}</h2>
            <button type="button" data-testid="sync-review-refresh" onClick={loadReview}>⟳ {t('syncReviewRefresh')}</button>
          </div>
          <p className="muted">{t('reviewIntro')}</p>
          {review === null ? <Spinner /> : reviewCount(review) === 0 ? <p className="panel" data-testid="sync-review-empty">{t('reviewNone')}</p> : <Review review={review} onGo={onGo} />}
        </div>
      ) : null}
    </section>
  );
}
