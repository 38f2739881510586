// The sync part of FakeBackend, after src-tauri's sync.rs in miniature: not
// enrolled at first; enrolment by who may edit master data with a one-time
// code (a used or malformed one is refused, plain http only to this
// computer; a CA certificate file checked as the app checks one); a round
// pushes what is pending and pulls what `arrive` queued, emitting
// sync-status, sync-progress and sync-applied like the app. Tests take the
// server away and back (`offline`), give it a certificate from the hospital's
// own CA (`serverCa`: a link that does not trust it is refused), and
// `seedReview` fills the review lists with what a merge can leave (the
// browser preview does too).
import type { CaCertificateFile } from '../bindings/CaCertificateFile';
import type { Lang } from '../bindings/Lang';
import type { SyncApplied } from '../bindings/SyncApplied';
import type { SyncProgress } from '../bindings/SyncProgress';
import type { SyncReview } from '../bindings/SyncReview';
import type { SyncStatusView } from '../bindings/SyncStatusView';
import type { UserView } from '../bindings/UserView';
import type { SyncBackend } from './syncBackend';

/** What the sync fake needs from the rest of FakeBackend. */
export interface FakeSyncHost {
  reply<T>(command: string, args: unknown, body: () => T): Promise<T>;
  fail(code: string, zh: string, en: string): never;
  user(): UserView | null;
  mayEditMasterData(user: UserView): boolean;
  language(): Lang;
  /** This workstation's movements so far (what a push would send). */
  movementCount(): number;
}

/** A fake enrolment code looks like the server's: eight groups of four hex digits. */
export const FAKE_CODE_PATTERN = /^[0-9a-f]{4}(-[0-9a-f]{4}){7}$/;
export const FAKE_ENROLMENT_CODE = '3f2a-9c41-07be-d5e8-6a13-c0f4-82d9-1b7e';

function loopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The largest CA file the app reads (sync::tls::TLS_FILE_MAX_BYTES). */
const CA_FILE_MAX_BYTES = 256 * 1024;

/** A fake CA certificate, as a hospital's IT would hand it out. */
export const FAKE_HOSPITAL_CA = '-----BEGIN CERTIFICATE-----\nMIIBfakeHospitalRootCA\n-----END CERTIFICATE-----';

/** Checks a CA file as src-tauri's read_ca_text does: [code, zh, en] of the refusal, or null. */
function caFileRefusal(file: CaCertificateFile): [string, string, string] | null {
  const name = file.name;
  if (file.text.length > CA_FILE_MAX_BYTES) {
    return ['tls_file_unreadable', `文件 ${name} 太大（最多 256 KiB），不是 CA 证书。请向信息科要医院的 CA 证书（.pem 或 .crt 文件）。`,
      `The file ${name} is too large (at most 256 KiB) to be a CA certificate. Ask IT for the hospital's CA certificate (a .pem or .crt file).`];
  }
  const sections = [...file.text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  if (sections.length === 0) {
    return ['tls_file_invalid', `文件 ${name} 不是 PEM 格式的证书（no PEM section）。CA 证书是以 -----BEGIN CERTIFICATE----- 开头的文本文件，请向信息科要。`,
      `The file ${name} is not a PEM certificate (no PEM section). A CA certificate is a text file starting with -----BEGIN CERTIFICATE-----; ask IT for it.`];
  }
  if (sections.some((kind) => kind !== 'CERTIFICATE')) {
    return ['tls_file_invalid', `文件 ${name} 里除了证书还有别的内容（例如私钥），没有保存。只选 CA 证书；私钥不能离开服务器，请告诉信息科。`,
      `The file ${name} holds more than certificates (a private key?); nothing was kept. Choose the CA certificate only; private keys must not leave the server, so tell IT.`];
  }
  return null;
}

const UNTRUSTED = {
  code: 'certificate_untrusted',
  zh: '本机不信任服务器的证书（UnknownIssuer），没有连接。如果医院使用自己的证书颁发机构（CA）或自签名证书：请向信息科要医院的 CA 证书（.pem 或 .crt 文件），在“同步”页（Alt+0）的“医院 CA 证书”处添加。',
  en: 'The server\'s certificate is not trusted by this workstation (UnknownIssuer); nothing was sent. If the hospital uses its own certificate authority or a self-signed certificate, ask IT for the hospital\'s CA certificate (a .pem or .crt file) and add it under "Hospital CA certificate" on the Sync screen (Alt+0).',
};

const EMPTY: SyncReview = {
  conflicts: [], exceptions: [], safety_edits: [], duplicate_codes: [], ambiguous_counts: [], double_corrections: [], future_movements: [],
};

export class FakeSync implements SyncBackend {
  /** The server cannot be reached while true. */
  offline = false;
  /** How long a round takes (ms); tests of the progress bar make it long. */
  roundMs = 0;
  /** The CA that signed the server's certificate when it is the hospital's own (null: a publicly trusted one). */
  serverCa: string | null = null;
  private url: string | null = null;
  private ca: string | null = null;
  private usedCodes = new Set<string>();
  private pushedUpTo = 0;
  private lastSuccessMs: number | null = null;
  private error: { code: string; zh: string; en: string; atMs: number } | null = null;
  private running = false;
  private progress: SyncProgress | null = null;
  private lastRound: SyncStatusView['last_round'] = null;
  private incoming: { count: number; apply: () => void }[] = [];
  private review: SyncReview = structuredClone(EMPTY);
  private statusHandlers = new Set<(status: SyncStatusView) => void>();
  private progressHandlers = new Set<(progress: SyncProgress) => void>();
  private appliedHandlers = new Set<(applied: SyncApplied) => void>();

  constructor(private host: FakeSyncHost) {}

  private say(zh: string, en: string) { return this.host.language() === 'zh' ? zh : en; }

  status(): SyncStatusView {
    const pending = Math.max(0, this.host.movementCount() - this.pushedUpTo);
    return {
      enrolled: this.url !== null, server_url: this.url, trust: this.trust(), last_success_ms: this.lastSuccessMs, pending, running: this.running,
      progress: this.progress,
      error: this.error ? { code: this.error.code, message: this.say(this.error.zh, this.error.en), offline: this.error.code === 'server_unreachable', at_ms: this.error.atMs } : null,
      last_round: this.lastRound, next_attempt_ms: this.error ? this.error.atMs + 2000 : null,
    };
  }

  private trust(): SyncStatusView['trust'] {
    if (this.url === null) return null;
    if (this.url.toLowerCase().startsWith('http://')) return 'plain_http';
    return this.ca !== null ? 'hospital_ca' : 'system_roots';
  }

  /** Whether the server's certificate is trusted by a link to `url` trusting `ca`. */
  private trusted(url: string, ca: string | null): boolean {
    return url.toLowerCase().startsWith('http://') || this.serverCa === null || ca === this.serverCa;
  }

  private emitStatus() { const s = this.status(); this.statusHandlers.forEach((h) => h(structuredClone(s))); }

  /** Other workstations' events waiting on the server: `apply` runs when a round pulls them. */
  arrive(count: number, apply: () => void) { this.incoming.push({ count, apply }); }

  /** This workstation's database was put back from an older copy: the server holds `count` of
   * its own records the copy lacks, and the next round fetches them back (`apply`). */
  wentBack(count: number, apply: () => void) { this.ownBack.push({ count, apply }); }
  private ownBack: { count: number; apply: () => void }[] = [];

  private codes = 0;
  /** Another server-made enrolment code (the first is FAKE_ENROLMENT_CODE). */
  newCode(): string {
    this.codes += 1;
    return FAKE_ENROLMENT_CODE.replace(/.{4}$/, this.codes.toString(16).padStart(4, '0'));
  }

  /** The server refuses this workstation from the next round on (an administrator revoked it). */
  revoke() { this.revoked = true; }
  private revoked = false;

  /** A round, as the sync thread runs one; resolves when it has ended. */
  async round(): Promise<void> {
    if (this.url === null || this.running) return;
    const pending = Math.max(0, this.host.movementCount() - this.pushedUpTo);
    this.running = true;
    this.progress = null;
    this.emitStatus();
    if (this.roundMs > 0) await new Promise((resolve) => setTimeout(resolve, this.roundMs / 2));
    if (this.revoked) {
      this.running = false;
      this.error = {
        code: 'revoked', atMs: Date.now(),
        zh: '本机已被服务器停用，不能再同步。请联系管理员。', en: 'This workstation was revoked on the server and may not sync. Contact an administrator.',
      };
      this.emitStatus();
      return;
    }
    if (!this.offline && !this.trusted(this.url, this.ca)) {
      this.running = false;
      this.error = { ...UNTRUSTED, atMs: Date.now() };
      this.emitStatus();
      return;
    }
    if (this.offline) {
      this.running = false;
      this.error = {
        code: 'server_unreachable', atMs: Date.now(),
        zh: '连不上医院服务器（connection refused）。本机照常记账，网络恢复后会自动同步。',
        en: 'The hospital server cannot be reached (connection refused). Keep working: this workstation syncs by itself when the network is back.',
      };
      this.emitStatus();
      return;
    }
    if (pending > 0) {
      this.progress = { phase: 'push', done: pending, total: pending };
      this.progressHandlers.forEach((h) => h(structuredClone(this.progress!)));
      this.emitStatus();
    }
    if (this.roundMs > 0) await new Promise((resolve) => setTimeout(resolve, this.roundMs / 2));
    const back = this.ownBack.splice(0);
    const ownEventsBack = back.reduce((n, x) => n + x.count, 0);
    back.forEach((x) => x.apply());
    const arrived = this.incoming.splice(0);
    const pulled = arrived.reduce((n, x) => n + x.count, 0);
    arrived.forEach((x) => x.apply());
    this.pushedUpTo = this.host.movementCount();
    this.running = false;
    this.progress = null;
    this.error = null;
    this.lastSuccessMs = Date.now();
    // As the app: a round that moved nothing leaves the last round's figures (and notices) as they were.
    if (pending + pulled + ownEventsBack > 0) {
      this.lastRound = {
        at_ms: this.lastSuccessMs, pushed: pending, pulled, conflicts: this.review.conflicts.length, exceptions: this.review.exceptions.length,
        snapshot_balances: null, own_events_back: ownEventsBack,
      };
    }
    if (pulled + ownEventsBack > 0) {
      const applied: SyncApplied = {
        pulled, snapshot_balances: null, own_events_back: ownEventsBack, conflicts: this.review.conflicts.length, exceptions: this.review.exceptions.length,
      };
      this.appliedHandlers.forEach((h) => h(applied));
    }
    this.emitStatus();
  }

  /** What a merge of offline work can leave for a manager (the preview and tests). */
  seedReview() {
    this.review = {
      exceptions: [{
        item: '09506000134352', lot: 'L2312', serial: '', location: 'ICU-STORE', status: 'available', quantity: -20,
        movements: [
          { id: '0193a7c2-5d10-7b21-9a44-1c2d3e4f5a60', node: '0193a001-0000-7000-8000-0000000002a1', kind: 'issue', quantity: -50,
            document_number: 'CK-S02-000014', user: 'wangli', recorded_at: '2026-11-24T09:12:40Z' },
          { id: '0193a7c2-6e21-7c32-8b55-2d3e4f5a6b71', node: '0193a001-0000-7000-8000-0000000003b2', kind: 'issue', quantity: -30,
            document_number: 'CK-S03-000009', user: 'lihua', recorded_at: '2026-11-24T09:40:05Z' },
        ],
      }],
      conflicts: [{
        kind: 'movement', key: '0193a7c27f3284d39c662e4f5a6b7c82', origin: '0193a001-0000-7000-8000-0000000003b2',
        stored: '{"quantity":-5,"lot":"L2402"}', incoming: '{"quantity":-6,"lot":"L2402"}',
      }],
      safety_edits: [{
        entity: 'item', code: '06958841004890', field: 'max_temp_c',
        values: [
          { hlc: 1_764_000_000_000 * 65536, node: '0193a001-0000-7000-8000-0000000002a1', value: '"8.0"' },
          { hlc: 1_764_000_060_000 * 65536, node: '0193a001-0000-7000-8000-0000000003b2', value: '"6.0"' },
        ],
      }],
      duplicate_codes: [{ entity: 'location', code: 'OR-STORE', holders: ['OR-STORE', 'OR-STORE~4c1d09ab'] }],
      ambiguous_counts: [{
        count_id: '0193a7d0-1111-7000-8000-00000000c001', item: '09506000134352', lot: 'L2402', serial: '', location: 'MAIN',
        status: 'available', node: '0193a001-0000-7000-8000-0000000002a1', counted_at_ms: Date.UTC(2026, 10, 24, 10, 0, 0),
        counted: 38, expected: 40, document_number: 'PD-S01-000003', balance: 33,
        movements: [{
          id: '0193a7d0-2222-7000-8000-00000000c002', node: '0193a001-0000-7000-8000-0000000003b2', kind: 'issue', quantity: -5,
          at_ms: Date.UTC(2026, 10, 24, 10, 2, 0), offset_ms: 120_000, document_number: 'CK-S03-000011',
        }],
      }],
      double_corrections: [{
        corrected: '0193a7c2-5d10-7b21-9a44-1c2d3e4f5a60',
        corrections: ['0193a7e0-0001-7000-8000-0000000000d1', '0193a7e0-0002-7000-8000-0000000000d2'],
      }],
      future_movements: [{
        id: '0193a7f0-0001-7000-8000-0000000000e1', node: '0193a001-0000-7000-8000-0000000003b2', stamped_at: '2027-11-24T09:00:00Z',
        kind: 'receive', quantity: 20,
      }],
    };
  }

  // ---- the commands ---------------------------------------------------------

  syncStatus() { return this.host.reply('sync_status', null, () => this.status()); }

  syncNow() {
    return this.host.reply('sync_now', null, () => {
      if (!this.host.user()) this.host.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
      if (this.url === null) {
        this.host.fail('not_enrolled', '本机尚未注册到医院服务器。请管理员在“同步”页填写服务器地址和注册码。',
          'This workstation is not enrolled with the hospital server. An administrator enters the server address and an enrolment code on the Sync screen.');
      }
      setTimeout(() => void this.round(), 0);
      return this.status();
    });
  }

  enrolWorkstation(url: string, code: string, ca: CaCertificateFile | null) {
    return this.host.reply('enrol_workstation', { url, code, ca }, () => {
      const user = this.host.user();
      if (!user) this.host.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
      if (!this.host.mayEditMasterData(user)) {
        this.host.fail('forbidden', `用户 ${user.username} 无权修改基础数据。请由有权限的人员操作。`,
          `User ${user.username} (${user.role}) may not edit master data. Ask someone with that permission.`);
      }
      const [address, secret] = [url.trim(), code.trim()];
      if (!address || !secret) this.host.fail('invalid_input', '请填写服务器地址和注册码。', 'Enter the server address and the enrolment code.');
      const refusal = ca ? caFileRefusal(ca) : null;
      if (refusal) this.host.fail(...refusal);
      const caPem = ca ? ca.text.trim() : null;
      let parsed: URL | null = null;
      try { parsed = new URL(address); } catch { parsed = null; }
      if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
        this.host.fail('bad_url', `服务器地址 ${address} 不正确，例如 https://server.hospital:8443`,
          `The server address ${address} is not valid, e.g. https://server.hospital:8443`);
      }
      if (parsed.protocol === 'http:' && !loopback(parsed.hostname)) {
        this.host.fail('insecure_url', `明文 http 只允许连接本机；${address} 请用 https。`,
          `Plain http is only allowed to this computer; use https for ${address}.`);
      }
      if (this.offline) {
        this.host.fail('server_unreachable', '连不上医院服务器（connection refused）。本机照常记账，网络恢复后会自动同步。',
          'The hospital server cannot be reached (connection refused). Keep working: this workstation syncs by itself when the network is back.');
      }
      if (!this.trusted(address, caPem)) this.host.fail(UNTRUSTED.code, UNTRUSTED.zh, UNTRUSTED.en);
      if (!FAKE_CODE_PATTERN.test(secret) || this.usedCodes.has(secret)) {
        this.host.fail('bad_enrolment_code', '注册码无效、已用过或已过期。请在服务器上重新生成。',
          'The enrolment code is unknown, used or expired. Make a new one on the server.');
      }
      this.usedCodes.add(secret);
      this.revoked = false;
      this.url = address;
      this.ca = caPem;
      this.error = null;
      setTimeout(() => void this.round(), 0);
      return this.status();
    });
  }

  replaceSyncCa(ca: CaCertificateFile) {
    return this.host.reply('replace_sync_ca', { ca }, () => {
      const user = this.host.user();
      if (!user) this.host.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
      if (!this.host.mayEditMasterData(user)) {
        this.host.fail('forbidden', `用户 ${user.username} 无权修改基础数据。请由有权限的人员操作。`,
          `User ${user.username} (${user.role}) may not edit master data. Ask someone with that permission.`);
      }
      const refusal = caFileRefusal(ca);
      if (refusal) this.host.fail(...refusal);
      if (this.url === null) {
        this.host.fail('not_enrolled', '本机尚未注册到医院服务器。请管理员在“同步”页填写服务器地址和注册码。',
          'This workstation is not enrolled with the hospital server. An administrator enters the server address and an enrolment code on the Sync screen.');
      }
      this.ca = ca.text.trim();
      setTimeout(() => void this.round(), 0);
      return this.status();
    });
  }

  syncReview() {
    return this.host.reply('sync_review', null, () => {
      if (!this.host.user()) this.host.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
      return this.review;
    });
  }

  onSyncStatus(handler: (status: SyncStatusView) => void) { this.statusHandlers.add(handler); return () => { this.statusHandlers.delete(handler); }; }
  onSyncProgress(handler: (progress: SyncProgress) => void) { this.progressHandlers.add(handler); return () => { this.progressHandlers.delete(handler); }; }
  onSyncApplied(handler: (applied: SyncApplied) => void) { this.appliedHandlers.add(handler); return () => { this.appliedHandlers.delete(handler); }; }
}
