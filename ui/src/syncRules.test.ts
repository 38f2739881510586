import { describe, expect, it } from 'vitest';
import type { SyncStatusView } from './bindings/SyncStatusView';
import { translator } from './i18n';
import {
  ago, CA_FILE_MAX_BYTES, caFileProblem, concernsCa, enrolProblem, entityText, hlcMs, isCaFileError, isLong, LONG_SYNC_MS, needsEnrolAgain, prettyJson,
  progressFraction, progressText, reviewCount, shortId, summarize, TRUST_TEXT, valueInForce,
} from './syncRules';

const en = translator('en');
const zh = translator('zh');
const NOW = 1_764_000_000_000;

function status(extra: Partial<SyncStatusView> = {}): SyncStatusView {
  return {
    enrolled: true, server_url: 'https://server.hospital:8443', trust: 'system_roots', last_success_ms: NOW - 12_000, pending: 0, running: false,
    progress: null, error: null, last_round: null, next_attempt_ms: null, ...extra,
  };
}

describe('how long ago', () => {
  it('reads as a person says it, in both languages', () => {
    expect(ago(NOW - 2_000, NOW, en)).toBe('just now');
    expect(ago(NOW - 12_000, NOW, en)).toBe('12 s ago');
    expect(ago(NOW - 12_000, NOW, zh)).toBe('12 秒前');
    expect(ago(NOW - 5 * 60_000, NOW, en)).toBe('5 min ago');
    expect(ago(NOW - 3 * 3_600_000, NOW, zh)).toBe('3 小时前');
    expect(ago(NOW - 3 * 86_400_000, NOW, en)).toBe('3 days ago');
    // A clock set back never reads as the future.
    expect(ago(NOW + 60_000, NOW, en)).toBe('just now');
  });
});

describe('the status area', () => {
  it('says when the workstation has no server', () => {
    expect(summarize(null, NOW, en)).toMatchObject({ tone: 'off', text: 'No server' });
    expect(summarize(status({ enrolled: false, server_url: null }), NOW, zh)).toMatchObject({ tone: 'off', text: '未连接服务器' });
  });

  it('shows the last success and what waits to be sent', () => {
    expect(summarize(status(), NOW, en)).toEqual({ tone: 'ok', text: 'Synced 12 s ago', pending: null, detail: null });
    expect(summarize(status({ pending: 1234 }), NOW, zh)).toMatchObject({ tone: 'ok', text: '已同步 · 12 秒前', pending: '待上传 1,234' });
    expect(summarize(status({ last_success_ms: null }), NOW, en)).toMatchObject({ tone: 'never', text: 'Not synced yet' });
  });

  it('says offline in plain words with the last success, and keeps the full message for the tooltip', () => {
    const error = { code: 'server_unreachable', message: 'The hospital server cannot be reached (…). Keep working', offline: true, at_ms: NOW };
    expect(summarize(status({ error, pending: 3 }), NOW, en)).toEqual({
      tone: 'offline', text: 'Offline · last synced 12 s ago', pending: '3 to send', detail: error.message,
    });
    expect(summarize(status({ error, last_success_ms: null }), NOW, zh).text).toBe('离线 · 照常记账');
    const revoked = { code: 'revoked', message: '本机已被服务器停用，不能再同步。请联系管理员。', offline: false, at_ms: NOW };
    expect(summarize(status({ error: revoked }), NOW, zh)).toMatchObject({ tone: 'error', text: '同步失败', detail: revoked.message });
  });

  it('shows a running round only once it is long (a quick round every few seconds would flicker), or before the first success', () => {
    const running = status({ running: true, progress: { phase: 'push', done: 2000, total: 5000 } });
    expect(summarize(running, NOW, en, false).tone).toBe('ok');
    expect(summarize(running, NOW, en, true)).toMatchObject({ tone: 'running', text: 'Sending 2,000/5,000' });
    expect(summarize(status({ running: true, last_success_ms: null }), NOW, zh, false)).toMatchObject({ tone: 'running', text: '正在同步…' });
    expect(isLong(null, NOW)).toBe(false);
    expect(isLong(NOW - LONG_SYNC_MS + 1, NOW)).toBe(false);
    expect(isLong(NOW - LONG_SYNC_MS, NOW)).toBe(true);
  });

  it('words progress with a total when the phase knows it', () => {
    expect(progressText({ phase: 'pull', done: 12000, total: null }, en)).toBe('Receiving 12,000');
    expect(progressText({ phase: 'snapshot', done: 3, total: null }, zh)).toBe('载入快照 3');
    expect(progressFraction({ phase: 'push', done: 500, total: 2000 })).toBe(0.25);
    expect(progressFraction({ phase: 'push', done: 5000, total: 2000 })).toBe(1);
    expect(progressFraction({ phase: 'pull', done: 500, total: null })).toBeNull();
    expect(progressFraction(null)).toBeNull();
  });
});

describe('the review', () => {
  it('marks the later value of a safety field as the one in force', () => {
    const a = { hlc: 100 * 65536, node: 'b', value: '"8.0"' };
    const b = { hlc: 160 * 65536, node: 'a', value: '"6.0"' };
    expect(valueInForce([a, b])).toBe(b);
    expect(valueInForce([b, a])).toBe(b);
    expect(valueInForce([{ ...a, node: 'a' }, a])).toBe(a);
    expect(valueInForce([])).toBeNull();
    expect(hlcMs(b.hlc + 7)).toBe(160);
  });

  it('counts, shortens and words what the lists hold', () => {
    expect(reviewCount(null)).toBe(0);
    expect(reviewCount({ conflicts: [], exceptions: [], safety_edits: [], duplicate_codes: [{ entity: 'item', code: 'X', holders: ['X', 'X~1'] }],
      ambiguous_counts: [], double_corrections: [], future_movements: [] })).toBe(1);
    expect(reviewCount({ conflicts: [], exceptions: [], safety_edits: [], duplicate_codes: [], ambiguous_counts: [],
      double_corrections: [{ corrected: 'a', corrections: ['b', 'c'] }],
      future_movements: [{ id: 'd', node: 'n', stamped_at: '2027-01-01T00:00:00Z', kind: 'issue', quantity: -1 }] })).toBe(2);
    expect(shortId('0193a7c2-5d10-7b21-9a44-1c2d3e4f5a60')).toBe('3e4f5a60');
    expect(shortId(null)).toBe('—');
    expect(entityText('location', zh)).toBe('库位');
    expect(entityText('widget', en)).toBe('widget');
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson('not json')).toBe('not json');
  });
});

describe('the enrolment form and the hospital CA certificate', () => {
  const words = (problem: ReturnType<typeof enrolProblem>, t = en) => (problem ? t(problem.key, problem.values) : null);

  it('asks for the address and the code, and takes a CA certificate only with https', () => {
    expect(words(enrolProblem('', 'code', false))).toBe('Enter the server address and the code');
    expect(words(enrolProblem('https://sync.hospital:8443', '  ', true), zh)).toBe('请填写服务器地址和注册码');
    expect(enrolProblem('https://sync.hospital:8443', 'code', true)).toBeNull();
    expect(enrolProblem('http://127.0.0.1:8470', 'code', false)).toBeNull();
    expect(words(enrolProblem(' HTTP://127.0.0.1:8470', 'code', true))).toContain('used only with addresses starting https://');
    expect(words(enrolProblem('http://127.0.0.1:8470', 'code', true), zh)).toContain('CA 证书只用于 https:// 开头的地址');
  });

  it('refuses an empty or too large file before reading it, naming the file, in both languages', () => {
    expect(caFileProblem({ name: 'ca.pem', size: 1200 })).toBeNull();
    expect(caFileProblem({ name: 'ca.pem', size: CA_FILE_MAX_BYTES })).toBeNull();
    expect(words(caFileProblem({ name: 'ca.pem', size: 0 }))).toBe('The file ca.pem is empty: it is not a CA certificate. Ask IT for the hospital\'s CA certificate.');
    const large = caFileProblem({ name: 'backup.crt', size: CA_FILE_MAX_BYTES + 1 });
    expect(words(large)).toBe('The file backup.crt is too large (at most 256 KiB) to be a CA certificate. Ask IT for the hospital\'s CA certificate (a .pem or .crt file).');
    expect(words(large, zh)).toBe('文件 backup.crt 太大（最多 256 KiB），不是 CA 证书。请向信息科要医院的 CA 证书（.pem 或 .crt 文件）。');
  });

  it('says which certificates the link trusts', () => {
    expect(en(TRUST_TEXT.hospital_ca)).toBe('The hospital\'s own CA certificate');
    expect(zh(TRUST_TEXT.hospital_ca)).toBe('医院自己的 CA 证书');
    expect(en(TRUST_TEXT.system_roots)).toBe('The certificates this computer\'s system trusts');
    expect(zh(TRUST_TEXT.system_roots)).toBe('本机系统信任的证书');
    expect(zh(TRUST_TEXT.plain_http)).toContain('明文 http');
  });

  it('tells the CA\'s failures from those only a new enrolment settles', () => {
    const table: [string, boolean, boolean, boolean][] = [
      // code, a CA file refused, the CA may settle it, enrol again
      ['certificate_untrusted', false, true, false],
      ['certificate_expired', false, true, false],
      ['tls_file_invalid', true, true, false],
      ['tls_file_unreadable', true, true, false],
      ['certificate_wrong_host', false, false, true],
      ['https_required', false, false, true],
      ['insecure_url', false, false, true],
      ['server_not_https', false, false, true],
      ['revoked', false, false, true],
      ['unauthenticated', false, false, true],
      ['server_unreachable', false, false, false],
    ];
    for (const [code, file, ca, again] of table) {
      expect([isCaFileError(code), concernsCa(code), needsEnrolAgain(code)], code).toEqual([file, ca, again]);
    }
    expect([isCaFileError(null), concernsCa(undefined), needsEnrolAgain(null)]).toEqual([false, false, false]);
  });

  it('words the CA panel for each kind of trust, saying no new enrolment is needed', () => {
    expect(en('caIntroOwn')).toContain('no new enrolment needed');
    expect(zh('caIntroSystem')).toContain('不用重新注册');
    expect(en('caReplaced', { name: 'ca-2027.pem' })).toBe('Now using the CA certificate ca-2027.pem; syncing.');
    expect(zh('enrolCa')).toBe('医院 CA 证书（可选）');
  });
});
