// An in-memory backend with the core's rules in miniature, for tests and for
// viewing the UI in a plain browser (`vite preview`). It follows
// crates/ledger/src/posting.rs: the same checks in the same order, the same
// error codes and (abridged) bilingual messages, FEFO over available,
// non-expired, non-serial keys, splitting across lots, and a manager's
// override that lets the last lot go negative. The Rust core stays the
// authority; this only imitates it so the screens can be exercised.
import type { ApiError } from '../bindings/ApiError';
import type { AppInfo } from '../bindings/AppInfo';
import type { BarcodeScan } from '../bindings/BarcodeScan';
import type { CountEntry } from '../bindings/CountEntry';
import type { DepartmentView } from '../bindings/DepartmentView';
import type { DocumentKind } from '../bindings/DocumentKind';
import type { DocumentLineView } from '../bindings/DocumentLineView';
import type { DocumentRequest } from '../bindings/DocumentRequest';
import type { DocumentView } from '../bindings/DocumentView';
import type { ImportProgress } from '../bindings/ImportProgress';
import type { ImportSummary } from '../bindings/ImportSummary';
import type { ItemView } from '../bindings/ItemView';
import type { Lang } from '../bindings/Lang';
import type { LocationView } from '../bindings/LocationView';
import type { LotChoice } from '../bindings/LotChoice';
import type { MovementFilter } from '../bindings/MovementFilter';
import type { MovementKind } from '../bindings/MovementKind';
import type { MovementView } from '../bindings/MovementView';
import type { NewItem } from '../bindings/NewItem';
import type { ObservationView } from '../bindings/ObservationView';
import type { PostedStocktake } from '../bindings/PostedStocktake';
import type { PostStocktakeRequest } from '../bindings/PostStocktakeRequest';
import type { RecountKey } from '../bindings/RecountKey';
import type { ScanReading } from '../bindings/ScanReading';
import type { StockFilter } from '../bindings/StockFilter';
import type { StockRow } from '../bindings/StockRow';
import type { StockStatus } from '../bindings/StockStatus';
import type { StocktakeRef } from '../bindings/StocktakeRef';
import type { StocktakeRequest } from '../bindings/StocktakeRequest';
import type { StocktakeStatus } from '../bindings/StocktakeStatus';
import type { StocktakeSummary } from '../bindings/StocktakeSummary';
import type { StocktakeView } from '../bindings/StocktakeView';
import type { SupplierView } from '../bindings/SupplierView';
import type { UserView } from '../bindings/UserView';
import type { VarianceFlag } from '../bindings/VarianceFlag';
import type { VarianceReport } from '../bindings/VarianceReport';
import type { VarianceRow } from '../bindings/VarianceRow';
import { compareAbs, decimalSum, decimalTimes, parseDecimal } from '../decimal';
import type { Backend } from './backend';
import { BarcodeError, GS, gs1CheckDigit, readBarcode } from './fakeBarcode';
import { FakePrinting } from './fakePrinting';
import { FakeColdchain } from './fakeColdchain';
import { FakeSync } from './fakeSync';
import type { SyncApplied } from '../bindings/SyncApplied';
import type { CaCertificateFile } from '../bindings/CaCertificateFile';
import type { SyncProgress } from '../bindings/SyncProgress';
import type { SyncStatusView } from '../bindings/SyncStatusView';
import type { ColdchainUpdate } from '../bindings/ColdchainUpdate';
import type { DeviceState } from '../bindings/DeviceState';
import type { ImportProgress as ColdImportProgress } from '../bindings/ImportProgress';
import type { PortRole } from '../bindings/PortRole';
import type { SensorConfig } from '../bindings/SensorConfig';
import type { SerialScan } from '../bindings/SerialScan';
import type { LabelRequest } from '../bindings/LabelRequest';
import type { PrinterSetup } from '../bindings/PrinterSetup';
import type { PrintJobRow } from '../bindings/PrintJobRow';
import type { PrintLabelsRequest } from '../bindings/PrintLabelsRequest';

/** The demo dataset's "today" (fixtures/demo/README.md). */
export const FAKE_TODAY = '2026-11-25';

function item(code: string, name: string, name_en: string, specification: string, unit: string, extra: Partial<ItemView> = {}): ItemView {
  return {
    id: `item-${code}`, code, gtin: code, identifiers: [code], name, name_en, specification, manufacturer: '',
    registration_no: '', risk_class: 'II', category: '', unit, pack_size: 1, serialized: false, implantable: false,
    cold_chain: false, min_temp_c: null, max_temp_c: null, unit_price: null, default_supplier: null, reorder_point: 0,
    ...extra,
  };
}

const SYRINGE = '09506000134352';
const NEEDLE = '06976520008236';
const STENT = '06981205304251';
const GLUCOSE = '06958841004890';
const GAUZE = '06921234500124';

function seedItems(): ItemView[] {
  return [
    item(SYRINGE, '一次性使用无菌注射器', 'Sterile single-use syringe 5 ml', '5ml 带针 0.7×32TWLB', '支', {
      identifiers: [SYRINGE, 'SYR-5ML'], manufacturer: '苏州瑞禾医疗科技有限公司', registration_no: '国械注准20233141782',
      risk_class: 'III', category: 'syringe', pack_size: 100, unit_price: '0.38', default_supplier: 'SUP01', reorder_point: 1000,
    }),
    item(NEEDLE, '一次性使用无菌注射针', 'Sterile hypodermic needle 0.7×32 mm (22G)', '0.7×32TWLB', '支', {
      manufacturer: '宁波采康医用器材有限公司', risk_class: 'III', category: 'needle', pack_size: 100, unit_price: '0.12',
      default_supplier: 'SUP01', reorder_point: 500,
    }),
    item(STENT, '药物洗脱冠状动脉支架系统', 'Sirolimus-eluting coronary stent system 2.5×18 mm', '2.5×18mm 快速交换 钴铬合金', '套', {
      identifiers: [STENT, '+H724STENT2518Q'], manufacturer: '上海铭心医疗科技有限公司', risk_class: 'III', category: 'implant',
      serialized: true, implantable: true, unit_price: '5800.00', default_supplier: 'SUP02', reorder_point: 2,
    }),
    item(GLUCOSE, '葡萄糖测定试剂盒（己糖激酶法）', 'Glucose assay kit (hexokinase)', 'R1:4×60ml R2:2×30ml', '盒', {
      manufacturer: '广州源析生物技术有限公司', category: 'ivd_reagent', cold_chain: true, min_temp_c: '2.0', max_temp_c: '8.0',
      unit_price: '380.00', default_supplier: 'SUP08', reorder_point: 6,
    }),
    item(GAUZE, '医用脱脂纱布块', 'Absorbent gauze swab 7.5×7.5 cm 8-ply', '7.5cm×7.5cm-8P 非无菌', '片', {
      risk_class: 'I', category: 'dressing', pack_size: 100, unit_price: '0.15', default_supplier: 'SUP01', reorder_point: 2000,
    }),
  ];
}

const LOCATIONS: LocationView[] = [
  { code: 'MAIN', name: '中心库', name_en: 'Central Storeroom', kind: 'storeroom', department: null, min_temp_c: null, max_temp_c: null },
  { code: 'COLD', name: '冷库', name_en: 'Cold Room', kind: 'cold', department: null, min_temp_c: '2.0', max_temp_c: '8.0' },
  { code: 'ICU-STORE', name: '重症医学科二级库', name_en: 'ICU Sub-store', kind: 'department', department: 'ICU', min_temp_c: null, max_temp_c: null },
  { code: 'OR-STORE', name: '手术室二级库', name_en: 'Operating Theatre Sub-store', kind: 'department', department: 'OR', min_temp_c: null, max_temp_c: null },
  { code: 'CARD-STORE', name: '心内科二级库', name_en: 'Cardiology Sub-store', kind: 'department', department: 'CARD', min_temp_c: null, max_temp_c: null },
];

const DEPARTMENTS: DepartmentView[] = [
  { code: 'ICU', name: '重症医学科', name_en: 'Intensive Care Unit', cost_centre: 'CC-101', monthly_budget: '350000.00' },
  { code: 'OR', name: '手术室', name_en: 'Operating Theatre', cost_centre: 'CC-102', monthly_budget: '800000.00' },
  { code: 'ER', name: '急诊科', name_en: 'Emergency Department', cost_centre: 'CC-103', monthly_budget: '180000.00' },
  { code: 'CARD', name: '心内科', name_en: 'Cardiology', cost_centre: 'CC-104', monthly_budget: '1200000.00' },
];

const SUPPLIERS: SupplierView[] = [
  { code: 'SUP01', name: '上海康衡医疗器械有限公司', name_en: 'Shanghai Kangheng Medical Device Co., Ltd.' },
  { code: 'SUP02', name: '北京瑞通医疗供应链有限公司', name_en: 'Beijing Ruitong Medical Supply Chain Co., Ltd.' },
  { code: 'SUP08', name: '杭州冷链诊断试剂有限公司', name_en: 'Hangzhou Cold-Chain Diagnostics Co., Ltd.' },
];

const USERS: UserView[] = [
  { username: 'wangli', display_name: '王丽', role: 'clerk', language: 'zh' },
  { username: 'alice', display_name: 'Alice Chen', role: 'clerk', language: 'en' },
  { username: 'zhaoqiang', display_name: '赵强', role: 'manager', language: 'zh' },
  { username: 'liuyang', display_name: '刘洋', role: 'department', language: 'zh' },
  { username: 'zhouwei', display_name: '周伟', role: 'auditor', language: 'zh' },
];

/** Opening balances: [item, location, lot, expiry, serial, quantity, status]. */
const OPENING: [string, string, string, string | null, string, number, StockStatus][] = [
  [SYRINGE, 'MAIN', 'L2211', '2026-11-10', '', 15, 'available'],
  [SYRINGE, 'MAIN', 'L2312', '2026-12-10', '', 40, 'available'],
  [SYRINGE, 'MAIN', 'L2402', '2027-02-14', '', 1200, 'available'],
  [SYRINGE, 'MAIN', 'L2503', '2028-03-31', '', 1600, 'available'],
  [SYRINGE, 'ICU-STORE', 'L2312', '2026-12-10', '', 60, 'available'],
  [NEEDLE, 'MAIN', '2021120503', '2026-12-04', '', 600, 'available'],
  [NEEDLE, 'MAIN', '2024120701', '2029-12-06', '', 300, 'available'],
  [STENT, 'MAIN', 'B2609245', '2028-02-22', 'SN83138197', 1, 'available'],
  [STENT, 'MAIN', 'B2649973', '2028-03-05', 'SN23108918', 1, 'available'],
  [STENT, 'MAIN', 'B2649973', '2028-03-05', 'SN96583262', 1, 'available'],
  [STENT, 'CARD-STORE', 'B2609245', '2028-02-22', 'SN42998747', 1, 'available'],
  [GLUCOSE, 'COLD', '26010538', '2027-01-02', '', 13, 'available'],
  [GLUCOSE, 'COLD', '25110201', '2026-12-20', '', 2, 'quarantined'],
  [GAUZE, 'MAIN', '', null, '', 5000, 'available'],
];

interface Balance {
  item: string;
  lot: string;
  serial: string;
  location: string;
  status: StockStatus;
  quantity: number;
}

interface Allocation { lot: string; expiry: string | null; serial: string; quantity: number }

const PREFIX: Record<DocumentKind, string> = {
  receipt: 'RK', issue: 'CK', transfer: 'DB', stocktake: 'PD', correction: 'CZ', return: 'TH', scrap: 'BF', recall: 'ZH',
};

const ROLE_ZH: Record<string, string> = {
  clerk: '库管员', stocktaker: '盘点员', department: '科室用户', manager: '主管', purchasing: '采购', auditor: '审计', admin: '管理员',
};

const ALLOWED: Record<string, DocumentKind[]> = {
  admin: ['receipt', 'issue', 'transfer', 'stocktake'],
  manager: ['receipt', 'issue', 'transfer', 'stocktake'],
  clerk: ['receipt', 'issue', 'transfer', 'stocktake'],
  stocktaker: ['stocktake'],
  purchasing: ['receipt'],
  department: [],
  auditor: [],
};

/** Roles whose permission matrix in the core allows EditMasterData. */
const EDITS_MASTER_DATA = ['admin', 'manager', 'purchasing'];
/** Roles whose permission matrix in the core allows ReviewStocktake. */
const REVIEWS_STOCKTAKES = ['admin', 'manager'];
/** Who may release or scrap what an excursion quarantined (the core's Action::ReleaseQuarantine). */
export const RESOLVES_EXCURSIONS = ['admin', 'manager'];
/** Roles whose permission matrix in the core allows Count. */
const COUNTS = ['admin', 'manager', 'clerk', 'stocktaker'];
/** The core's LINE_QUANTITY_MAX. */
const QUANTITY_MAX = 10_000_000;
/** Scans shown as "last scans" (the core's LAST_SCANS_SHOWN). */
const LAST_SCANS_SHOWN = 20;

/** A counted key: item code, lot, serial, location ('' = none); status is always available. */
interface CountKey { item: string; lot: string; serial: string; location: string }
const keyOf = (k: CountKey) => [k.item, k.lot, k.serial, k.location].join('\u0000');

/** One observation, as stocktake_observations stores it. */
interface Observation {
  id: string;
  key: CountKey;
  expiry: string | null;
  quantity: number;
  source: 'scan' | 'typed' | 'import' | 'undo';
  round: number;
  counter: string;
  /** Shares the movements' clock, so "after the scan" means what it means in the core. */
  hlc: number;
  atMs: number;
  voids: string | null;
  /** The key's balance when the shelf was seen. */
  expected: number;
}

interface Stocktake {
  id: string;
  number: string;
  status: StocktakeStatus;
  blind: boolean;
  locations: string[];
  categories: string[];
  toleranceQuantity: number | null;
  toleranceValue: string | null;
  startedBy: string;
  startedAtMs: number;
  observations: Observation[];
  /** Key → its latest recount round. */
  recounts: Map<string, number>;
  /** The variance table as posted. */
  frozen: VarianceReport | null;
  /** When counting ended (finish_counting), if it ended before posting. */
  ended?: number;
}

/** One key after folding the observations (the core's KeyState). */
interface KeyState {
  key: CountKey;
  onBooks: number;
  inScopeOnBooks: boolean;
  round: number;
  /** Counter → total in the current round. */
  counters: Map<string, number>;
  last: Observation | null;
  /** Uncounted, and the books had here a serial unit this stocktake saw elsewhere (the core's `Found`). */
  found?: { hlc: number; then: number; count: number };
  /** Its serial unit was counted at another key of this stocktake too. */
  serialCountedTwice?: boolean;
}

/** Flags that block posting until a recount (the core's `VarianceFlag::blocks`). */
const blocks = (f: VarianceFlag) => f === 'disagreement' || f === 'recount_pending' || f === 'serial_counted_twice';

const isGtin = (code: string) => /^(\d{8}|\d{12,14})$/.test(code) && gs1CheckDigit(code.slice(0, -1)) === Number(code[code.length - 1]);

/** A scan as a plain identifier: no terminator, padding or AIM identifier (as src-tauri/src/scan.rs). */
function plainCode(data: string): string {
  const text = data.replace(new RegExp(`^[\\s${GS}]+|[\\s${GS}]+$`, 'g'), '');
  return /^\][0-9A-Za-z]{2}./.test(text) ? text.slice(3) : text;
}

const clone = <T,>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)) as T);
const text = (value: string | null | undefined) => (value ?? '').trim();
const byExpiry = (a: { expiry: string | null; lot: string }, b: { expiry: string | null; lot: string }) =>
  (a.expiry === null ? 1 : 0) - (b.expiry === null ? 1 : 0) || (a.expiry ?? '').localeCompare(b.expiry ?? '') || a.lot.localeCompare(b.lot);

export interface FakeOptions {
  /** The workstation's date (default: the demo dataset's today). */
  today?: string;
  /** Session language before a user is chosen. */
  language?: Lang;
  /** A user already chosen (skips the chooser). */
  user?: string | null;
  /** Simulated IPC latency in ms, so a browser preview shows loading states. */
  latencyMs?: number;
}

/** One call as the UI made it, for tests that check what was asked. */
export interface FakeCall { command: string; args: unknown }

export class FakeBackend implements Backend {
  language: Lang;
  user: UserView | null = null;
  readonly today: string;
  readonly calls: FakeCall[] = [];
  items = seedItems();
  users = clone(USERS);
  private latencyMs: number;
  private lots = new Map<string, string | null>();
  private balances: Balance[] = [];
  private moves: MovementView[] = [];
  private documents: DocumentView[] = [];
  private counters = new Map<string, number>();
  private hlc = 0;
  private stocktakeList: Stocktake[] = [];
  private observationIds = 0;

  constructor(options: FakeOptions = {}) {
    this.today = options.today ?? FAKE_TODAY;
    this.language = options.language ?? 'zh';
    this.latencyMs = options.latencyMs ?? 0;
    this.seed();
    if (options.user) this.user = this.users.find((u) => u.username === options.user) ?? null;
  }

  // ---- plumbing ------------------------------------------------------------

  private async reply<T>(command: string, args: unknown, body: () => T): Promise<T> {
    this.calls.push({ command, args: clone(args ?? null) });
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    return clone(body());
  }

  private fail(code: string, zh: string, en: string): never {
    throw { code, message: this.language === 'zh' ? zh : en } satisfies ApiError;
  }

  private now(): string {
    const wall = new Date();
    const [y, m, d] = this.today.split('-').map(Number);
    return new Date(y, m - 1, d, wall.getHours(), wall.getMinutes(), wall.getSeconds()).toISOString();
  }

  private lotKey(itemCode: string, lot: string) { return `${itemCode}\u0000${lot}`; }
  private expiryOf(itemCode: string, lot: string): string | null { return this.lots.get(this.lotKey(itemCode, lot)) ?? null; }

  private resolve(identifier: string): ItemView | undefined {
    const code = identifier.trim();
    const exact = this.items.find((i) => i.identifiers.includes(code));
    if (exact || !/^\d{8,13}$/.test(code)) return exact;
    return this.items.find((i) => i.identifiers.includes(code.padStart(14, '0')));
  }

  private item(identifier: string): ItemView {
    const found = this.resolve(identifier);
    if (!found) {
      this.fail('unknown_item', `没有编码为 ${identifier} 的品规。请检查编码，或先新建该品规。`,
        `No item has the code ${identifier}. Check the code or create the item first.`);
    }
    return found;
  }

  private location(code: string): LocationView {
    const found = LOCATIONS.find((l) => l.code === code);
    if (!found) this.fail('unknown_location', `没有库位 ${code}。请检查库位代码。`, `There is no location ${code}. Check the location code.`);
    return found;
  }

  private balance(key: Omit<Balance, 'quantity'>): Balance {
    let found = this.balances.find((b) => b.item === key.item && b.lot === key.lot && b.serial === key.serial
      && b.location === key.location && b.status === key.status);
    if (!found) {
      found = { ...key, quantity: 0 };
      this.balances.push(found);
    }
    return found;
  }

  private record(m: Partial<MovementView> & Pick<MovementView, 'kind' | 'item' | 'location' | 'quantity'>): MovementView {
    const it = this.items.find((i) => i.code === m.item)!;
    this.hlc += 1;
    const movement: MovementView = {
      id: `mv-${String(this.hlc).padStart(6, '0')}`, hlc: this.hlc, recorded_at: m.recorded_at ?? this.now(), node: 'fake-node',
      user: m.user ?? this.user?.username ?? '', kind: m.kind, item: it.code, item_name: it.name, item_name_en: it.name_en,
      lot: m.lot || null, serial: m.serial || null, location: m.location, status: m.status ?? 'available', quantity: m.quantity,
      expected_quantity: m.expected_quantity ?? null, unit_cost: m.unit_cost ?? null, department: m.department ?? null,
      supplier: m.supplier ?? null, document: m.document ?? null, document_number: m.document_number ?? null,
      reason: m.reason ?? null, corrects: null, override_by: m.override_by ?? null, note: m.note ?? '',
    };
    this.moves.push(movement);
    return movement;
  }

  private nextNumber(kind: DocumentKind): string {
    const prefix = PREFIX[kind];
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}-S01-${String(n).padStart(6, '0')}`;
  }

  /** The opening balance as one opening stocktake per location, as the demo loader does. */
  private seed() {
    const [y, m, d] = this.today.split('-').map(Number);
    const opened = new Date(y, m - 1, d - 5, 8, 30, 0).toISOString();
    for (const location of [...new Set(OPENING.map((row) => row[1]))]) {
      const number = this.nextNumber('stocktake');
      for (const [code, loc, lot, expiry, serial, quantity, status] of OPENING.filter((row) => row[1] === location)) {
        if (lot) this.lots.set(this.lotKey(code, lot), expiry);
        this.balance({ item: code, lot, serial, location: loc, status }).quantity = quantity;
        this.record({
          kind: 'count', item: code, lot, serial, location: loc, status, quantity, expected_quantity: 0, user: 'zhaoqiang',
          recorded_at: opened, document: number, document_number: number, note: '期初盘点 Opening balance',
        });
      }
    }
  }

  // ---- the commands ---------------------------------------------------------

  appInfo(): Promise<AppInfo> {
    return this.reply('app_info', null, () => ({
      node: { id: 'fake-node', site_code: 'S01', name: 'Browser preview' },
      db_path: '(in memory)', version: '0.1.0', today: this.today, language: this.language, user: this.user,
      may_edit_master_data: !!this.user && EDITS_MASTER_DATA.includes(this.user.role),
      may_review_stocktakes: !!this.user && REVIEWS_STOCKTAKES.includes(this.user.role),
      may_resolve_excursions: !!this.user && RESOLVES_EXCURSIONS.includes(this.user.role),
      may_enrol_workstation: !!this.user && EDITS_MASTER_DATA.includes(this.user.role),
    }));
  }

  listUsers() { return this.reply('list_users', null, () => this.users); }

  chooseUser(username: string) {
    return this.reply('choose_user', { username }, () => {
      const user = this.users.find((u) => u.username === username);
      if (!user) this.fail('unknown_user', `没有用户 ${username}。请选择已登记的用户。`, `There is no user ${username}. Choose a registered user.`);
      this.user = user;
      this.language = user.language;
      return user;
    });
  }

  setLanguage(language: Lang) {
    return this.reply('set_language', { language }, () => { this.language = language; return language; });
  }

  listLocations() { return this.reply('list_locations', null, () => LOCATIONS); }
  listDepartments() { return this.reply('list_departments', null, () => DEPARTMENTS); }
  listSuppliers() { return this.reply('list_suppliers', null, () => SUPPLIERS); }

  searchItems(query: string, limit: number) {
    return this.reply('search_items', { query, limit }, () => {
      const q = query.trim().toLowerCase();
      return this.items
        .filter((i) => !q || [...i.identifiers, i.name, i.name_en, i.specification].some((f) => f.toLowerCase().includes(q)))
        .slice(0, limit);
    });
  }

  findItem(identifier: string) { return this.reply('find_item', { identifier }, () => this.item(identifier)); }

  /** As the shell's add_item: the session user's role must allow master data, then the core's checks. */
  addItem(input: NewItem): Promise<ItemView> {
    return this.reply('add_item', { item: input }, () => {
      const user = this.user;
      if (!user) this.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
      if (!EDITS_MASTER_DATA.includes(user.role)) {
        this.fail('forbidden', `用户 ${user.username}（${ROLE_ZH[user.role]}）无权修改基础数据。请由有权限的人员操作。`,
          `User ${user.username} (${user.role}) may not edit master data. Ask someone with that permission.`);
      }
      const invalid = (field: string, zh: string, en: string): never =>
        this.fail('invalid_input', `${field} 无效：${zh}。请更正后重试。`, `Invalid ${field}: ${en}. Correct it and try again.`);
      if (!input.code.trim()) invalid('code', '不能为空', 'must not be empty');
      if (!input.name.trim()) invalid('name', '不能为空', 'must not be empty');
      if (input.pack_size < 1) invalid('pack_size', '至少为 1', 'must be at least 1');
      if (input.cold_chain && (input.min_temp_c === null || input.max_temp_c === null)) {
        invalid('cold_chain', '冷链品规必须填写储存温度范围（最低和最高 °C）', 'a cold-chain item needs its storage range (min and max °C)');
      }
      if (input.min_temp_c !== null && input.max_temp_c !== null && Number(input.min_temp_c) > Number(input.max_temp_c)) {
        invalid('min_temp', `最低 ${input.min_temp_c} °C 高于最高 ${input.max_temp_c} °C`, `minimum ${input.min_temp_c} °C is above maximum ${input.max_temp_c} °C`);
      }
      if (/^(\d{8}|\d{12,14})$/.test(input.code) && !isGtin(input.code)) {
        invalid('code', `${input.code} 像是 GTIN，但校验位错误`, `${input.code} looks like a GTIN but its check digit is wrong`);
      }
      if (this.items.some((i) => i.code === input.code)) {
        this.fail('duplicate_code', `品规代码 ${input.code} 已存在。请换一个代码。`, `The item code ${input.code} already exists. Use another code.`);
      }
      const identifiers: string[] = [];
      for (const text of [input.code, ...input.extra_identifiers]) {
        for (const form of [text, isGtin(text) ? text.padStart(14, '0') : text]) if (!identifiers.includes(form)) identifiers.push(form);
      }
      const taken = identifiers.find((id) => this.items.some((i) => i.identifiers.includes(id)));
      if (taken) this.fail('duplicate_code', `品规标识代码 ${taken} 已存在。请换一个代码。`, `The identifier code ${taken} already exists. Use another code.`);
      const created = item(input.code, input.name, input.name_en, input.specification, input.unit, {
        gtin: identifiers.find((id) => id.length === 14 && isGtin(id)) ?? null, identifiers, manufacturer: input.manufacturer,
        registration_no: input.registration_no, risk_class: input.risk_class, category: input.category, pack_size: input.pack_size,
        serialized: input.serialized, implantable: input.implantable, cold_chain: input.cold_chain, min_temp_c: input.min_temp_c,
        max_temp_c: input.max_temp_c, unit_price: input.unit_price, default_supplier: input.default_supplier, reorder_point: input.reorder_point,
      });
      this.items.push(created);
      return created;
    });
  }

  /** As the shell's parse_barcode over the GS1 imitation in fakeBarcode.ts. */
  parseBarcode(data: string): Promise<BarcodeScan> {
    return this.reply('parse_barcode', { data }, () => this.scan(data));
  }

  private scan(data: string): BarcodeScan {
    const itemOf = (r: ScanReading) => (r.di ? this.resolve(r.di) : undefined) ?? (r.gtin ? this.resolve(r.gtin) : undefined) ?? null;
    try {
      const read = readBarcode(data, this.today, this.language);
      return {
        input: data, scheme: 'gs1', symbology: read.symbology, reading: read.reading, item: itemOf(read.reading),
        candidates: read.candidates.map((reading) => ({ reading, item: itemOf(reading) })),
      };
    } catch (error) {
      if (!(error instanceof BarcodeError)) throw error;
      const code = plainCode(data);
      const known = code ? this.resolve(code) : undefined;
      if (!known) this.fail(error.code, error.zh, error.en);
      const reading: ScanReading = {
        di: code, gtin: null, lot: null, serial: null, expiry: null, production_date: null, quantity: null, elements: [], warnings: [],
      };
      return { input: data, scheme: 'item_code', symbology: null, reading, item: known, candidates: [] };
    }
  }

  stock(filter: StockFilter): Promise<StockRow[]> {
    return this.reply('stock', { filter }, () => {
      if (filter.location) this.location(filter.location);
      const q = filter.search?.trim().toLowerCase() ?? '';
      return this.balances
        .filter((b) => (filter.include_zero || b.quantity !== 0) && (!filter.location || b.location === filter.location))
        .map((b): StockRow => {
          const it = this.items.find((i) => i.code === b.item)!;
          const loc = this.location(b.location);
          return {
            item: it.id, code: it.code, gtin: it.gtin, name: it.name, name_en: it.name_en, unit: it.unit, lot: b.lot || null,
            expiry: b.lot ? this.expiryOf(b.item, b.lot) : null, serial: b.serial || null, location: loc.code,
            location_name: loc.name, location_name_en: loc.name_en, status: b.status, quantity: b.quantity,
          };
        })
        .filter((r) => !q || [r.code, r.gtin ?? '', r.name, r.name_en, r.lot ?? '', r.serial ?? ''].some((f) => f.toLowerCase().includes(q)))
        .sort((a, b) => a.code.localeCompare(b.code) || a.location.localeCompare(b.location)
          || byExpiry({ expiry: a.expiry, lot: a.lot ?? '' }, { expiry: b.expiry, lot: b.lot ?? '' })
          || (a.serial ?? '').localeCompare(b.serial ?? '') || a.status.localeCompare(b.status));
    });
  }

  fefoChoices(identifier: string, location: string): Promise<LotChoice[]> {
    return this.reply('fefo_choices', { item: identifier, location }, () => {
      const it = this.item(identifier);
      this.location(location);
      const rows = this.available(it.code, location);
      const choice = (b: Balance): LotChoice => {
        const expiry = b.lot ? this.expiryOf(b.item, b.lot) : null;
        return { lot: b.lot || null, expiry, serial: b.serial || null, quantity: b.quantity, expired: expiry !== null && expiry < this.today };
      };
      const sorted = (list: Balance[]) => list
        .map((b) => ({ b, expiry: b.lot ? this.expiryOf(b.item, b.lot) : null, lot: b.lot }))
        .sort((x, y) => byExpiry(x, y) || x.b.serial.localeCompare(y.b.serial))
        .map((x) => choice(x.b));
      return [...sorted(rows.filter((b) => !b.serial)), ...sorted(rows.filter((b) => b.serial))];
    });
  }

  private available(itemCode: string, location: string): Balance[] {
    return this.balances.filter((b) => b.item === itemCode && b.location === location && b.status === 'available' && b.quantity > 0);
  }

  postDocument(request: DocumentRequest): Promise<DocumentView> {
    return this.reply('post_document', { request }, () => this.post(request));
  }

  private post(request: DocumentRequest): DocumentView {
    const user = this.user;
    if (!user) this.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
    const kind = request.kind;
    if (!['receipt', 'issue', 'transfer'].includes(kind)) {
      this.fail('invalid_input', `kind 无效：预览版只支持入库、出库和调拨。`, `Invalid kind: the preview posts receipts, issues and transfers only.`);
    }
    if (request.lines.length === 0) this.fail('empty_document', '单据没有明细行。请至少添加一行。', 'The document has no lines. Add at least one line.');
    if (!ALLOWED[user.role].includes(kind)) {
      this.fail('forbidden', `用户 ${user.username}（${ROLE_ZH[user.role]}）无权执行此操作。请由有权限的人员操作。`,
        `User ${user.username} (${user.role}) may not ${kind === 'receipt' ? 'receive' : kind}. Ask someone with that permission.`);
    }
    const override = request.override;
    if (override) {
      const manager = this.users.find((u) => u.username === override.manager);
      if (!manager) this.fail('unknown_user', `没有用户 ${override.manager}。请选择已登记的用户。`, `There is no user ${override.manager}. Choose a registered user.`);
      if (manager.role !== 'manager' && manager.role !== 'admin') {
        this.fail('override_not_manager', `${override.manager} 不是主管，不能批准超库存出库。`, `${override.manager} is not a manager and cannot approve going beyond stock.`);
      }
      if (!override.reason.trim()) this.fail('override_reason_required', '主管批准必须填写原因。', "A manager's approval needs a reason.");
    }
    const source = this.location(request.location);
    let destination: LocationView | null = null;
    if (kind === 'receipt' && request.supplier && !SUPPLIERS.some((s) => s.code === request.supplier)) {
      this.fail('unknown_supplier', `没有供应商 ${request.supplier}。请先登记该供应商。`, `There is no supplier ${request.supplier}. Register the supplier first.`);
    }
    if (kind === 'issue') {
      const code = text(request.department);
      if (!code) this.fail('department_required', '出库必须选择领用科室。', 'An issue needs the receiving department. Choose one.');
      if (!DEPARTMENTS.some((d) => d.code === code)) this.fail('unknown_department', `没有科室 ${code}。请检查科室代码。`, `There is no department ${code}. Check the department code.`);
    }
    if (kind === 'transfer') {
      const code = text(request.to_location);
      if (!code) this.fail('destination_required', '调拨必须选择目标库位。', 'A transfer needs a destination location. Choose one.');
      destination = this.location(code);
      if (destination.code === source.code) {
        this.fail('same_location', `调出和调入库位都是 ${code}。请选择不同的目标库位。`, `Source and destination are both ${code}. Choose a different destination.`);
      }
    }
    const planned = request.lines.map((line) => {
      const it = this.item(line.item);
      if (line.quantity <= 0) this.fail('quantity_not_positive', `数量必须大于零（现为 ${line.quantity}）。`, `The quantity must be greater than zero (got ${line.quantity}).`);
      const serial = text(line.serial);
      if (it.serialized && !serial) this.fail('serial_required', `${it.code} 按序列号管理，必须逐个扫描或填写序列号。`, `${it.code} is serial-tracked: scan or enter the serial of each unit.`);
      if (it.serialized && line.quantity !== 1) this.fail('serial_quantity_not_one', `序列号 ${serial} 每次只能移动 1 件，不能是 ${line.quantity}。`, `Serial ${serial} moves one unit at a time, not ${line.quantity}.`);
      if (!it.serialized && serial) this.fail('serial_not_tracked', `${it.code} 不按序列号管理，请去掉序列号。`, `${it.code} is not serial-tracked; leave the serial empty.`);
      return { line, it, serial, allocations: kind === 'receipt' ? this.planReceipt(line, it, serial) : this.planOutgoing(line, it, serial, source, destination, !!override) };
    });
    return this.write(request, planned, user.username);
  }

  private planReceipt(line: DocumentRequest['lines'][number], it: ItemView, serial: string): Allocation[] {
    if (serial && this.balances.some((b) => b.item === it.code && b.serial === serial && b.quantity > 0)) {
      this.fail('serial_already_in_stock', `${it.code} 的序列号 ${serial} 已在库存中，不能重复入库。请核对序列号。`,
        `Serial ${serial} of ${it.code} is already in stock and cannot be received again. Check the serial.`);
    }
    const lot = text(line.lot);
    if (!lot && line.expiry) this.fail('invalid_input', 'lot 无效：填写有效期时必须填写批号。请更正后重试。', 'Invalid lot: an expiry date needs a lot number. Correct it and try again.');
    if (line.production_date && line.expiry && line.production_date > line.expiry) {
      this.fail('production_after_expiry', `生产日期 ${line.production_date} 晚于有效期 ${line.expiry}。请核对标签。`,
        `The production date ${line.production_date} is after the expiry ${line.expiry}. Check the label.`);
    }
    let expiry = line.expiry;
    if (lot && this.lots.has(this.lotKey(it.code, lot))) {
      const existing = this.expiryOf(it.code, lot);
      if (existing && line.expiry && existing !== line.expiry) {
        this.fail('lot_expiry_mismatch', `批号 ${lot} 已登记的效期是 ${existing}，不是 ${line.expiry}。请核对标签。`,
          `Lot ${lot} is recorded as expiring on ${existing}, not ${line.expiry}. Check the label.`);
      }
      expiry = existing ?? line.expiry;
    }
    if (expiry && expiry < this.today) {
      this.fail('lot_expired', `批号 ${lot} 已于 ${expiry} 过期，不能使用。请报废或退回供应商。`,
        `Lot ${lot} expired on ${expiry} — it cannot be issued. Scrap it or return it to the supplier.`);
    }
    return [{ lot, expiry, serial, quantity: line.quantity }];
  }

  private planOutgoing(
    line: DocumentRequest['lines'][number], it: ItemView, serial: string, source: LocationView,
    destination: LocationView | null, overridden: boolean,
  ): Allocation[] {
    // The temperature gate: a cold-chain item leaving a cold unit for a department.
    if (it.cold_chain && (!destination || destination.kind === 'department')) this.coldchain.gate(source.code);
    const lot = text(line.lot);
    const expiryRule = (lotNo: string, expiry: string | null) => {
      if (!expiry || expiry >= this.today) return;
      if (!destination) {
        this.fail('lot_expired', `批号 ${lotNo} 已于 ${expiry} 过期，不能使用。请报废或退回供应商。`,
          `Lot ${lotNo} expired on ${expiry} — it cannot be issued. Scrap it or return it to the supplier.`);
      }
      if (destination.kind === 'department') {
        this.fail('expired_to_department', `批号 ${lotNo} 已于 ${expiry} 过期，不能调往科室。请报废或退回供应商。`,
          `Lot ${lotNo} expired on ${expiry} and cannot go to a department. Scrap it or return it to the supplier.`);
      }
    };
    const insufficient = (available: number): never => this.fail('insufficient_stock',
      `${source.code} 的 ${it.code} 可用库存只有 ${available}，不足 ${line.quantity}。请减少数量，或由主管批准紧急出库并填写原因。`,
      `Only ${available} of ${it.code} available at ${source.code}, ${line.quantity} requested. Lower the quantity, or have a manager approve an emergency issue with a reason.`);
    const stock = this.available(it.code, source.code);
    if (serial) {
      const found = stock.find((b) => b.serial === serial && (!lot || b.lot === lot));
      if (!found) {
        this.fail('serial_not_in_stock', `${source.code} 没有 ${it.code} 序列号 ${serial} 的可用库存。请核对序列号和库位。`,
          `Serial ${serial} of ${it.code} is not available at ${source.code}. Check the serial and the location.`);
      }
      const expiry = this.expiryOf(it.code, found.lot);
      expiryRule(found.lot, expiry);
      return [{ lot: found.lot, expiry, serial, quantity: 1 }];
    }
    if (lot) {
      if (!this.lots.has(this.lotKey(it.code, lot))) this.fail('unknown_lot', `${it.code} 没有批号 ${lot}。请核对批号。`, `${it.code} has no lot ${lot}. Check the lot number.`);
      const expiry = this.expiryOf(it.code, lot);
      expiryRule(lot, expiry);
      const available = stock.filter((b) => b.lot === lot && !b.serial).reduce((n, b) => n + b.quantity, 0);
      if (line.quantity > available && !overridden) insufficient(available);
      return [{ lot, expiry, serial: '', quantity: line.quantity }];
    }
    const fresh = stock
      .filter((b) => !b.serial)
      .map((b) => ({ b, lot: b.lot, expiry: b.lot ? this.expiryOf(it.code, b.lot) : null }))
      .filter((x) => !x.expiry || x.expiry >= this.today)
      .sort(byExpiry);
    const allocations: Allocation[] = [];
    let remaining = line.quantity;
    for (const { b, expiry } of fresh) {
      const quantity = Math.min(remaining, b.quantity);
      if (quantity > 0) { allocations.push({ lot: b.lot, expiry, serial: '', quantity }); remaining -= quantity; }
    }
    if (remaining > 0) {
      if (!overridden) insufficient(fresh.reduce((n, x) => n + x.b.quantity, 0));
      const last = allocations[allocations.length - 1];
      if (last) last.quantity += remaining;
      else allocations.push({ lot: '', expiry: null, serial: '', quantity: remaining });
    }
    return allocations;
  }

  private write(
    request: DocumentRequest,
    planned: { line: DocumentRequest['lines'][number]; it: ItemView; allocations: Allocation[] }[],
    username: string,
  ): DocumentView {
    const kind = request.kind;
    const number = this.nextNumber(kind);
    const id = `doc-${number}`;
    const common = {
      user: username, document: id, document_number: number, unit_cost: null as string | null,
      reason: request.override?.reason.trim() ?? null, override_by: request.override?.manager ?? null, note: request.note,
    };
    const lines: DocumentLineView[] = [];
    const movements: MovementView[] = [];
    for (const { line, it, allocations } of planned) {
      const unit_cost = text(line.unit_cost) || it.unit_price;
      for (const a of allocations) {
        const key = { item: it.code, lot: a.lot, serial: a.serial, status: 'available' as const };
        if (kind === 'receipt') {
          if (a.lot && !this.lots.has(this.lotKey(it.code, a.lot))) this.lots.set(this.lotKey(it.code, a.lot), a.expiry);
          this.balance({ ...key, location: request.location }).quantity += a.quantity;
          movements.push(this.record({ ...common, ...key, kind: 'receive', location: request.location, quantity: a.quantity, unit_cost, supplier: request.supplier }));
        } else {
          const out: MovementKind = kind === 'transfer' ? 'transfer_out' : 'issue';
          this.balance({ ...key, location: request.location }).quantity -= a.quantity;
          movements.push(this.record({ ...common, ...key, kind: out, location: request.location, quantity: -a.quantity, unit_cost, department: request.department }));
          if (kind === 'transfer' && request.to_location) {
            this.balance({ ...key, location: request.to_location }).quantity += a.quantity;
            movements.push(this.record({ ...common, ...key, kind: 'transfer_in', location: request.to_location, quantity: a.quantity, unit_cost }));
          }
        }
        lines.push({
          line_no: lines.length + 1, item: it.code, item_name: it.name, item_name_en: it.name_en, lot: a.lot || null,
          expiry: a.expiry, serial: a.serial || null, quantity: a.quantity, unit_cost,
        });
      }
    }
    const document: DocumentView = {
      id, number, kind, status: 'posted', location: request.location, to_location: request.to_location,
      department: request.department, supplier: request.supplier, created_by: username, posted_by: username,
      posted_at: movements[0]?.recorded_at ?? this.now(), reason: common.reason, note: request.note, lines, movements,
    };
    this.documents.push(document);
    return document;
  }

  movements(filter: MovementFilter) {
    return this.reply('movements', { filter }, () => {
      const ordered = filter.newest_first ? [...this.moves].reverse() : [...this.moves];
      return filter.limit === null ? ordered : ordered.slice(0, filter.limit);
    });
  }

  trace(lotOrSerial: string) {
    return this.reply('trace', { lotOrSerial }, () => {
      const value = lotOrSerial.trim();
      return this.moves.filter((m) => m.lot === value || m.serial === value);
    });
  }

  document(number: string) {
    return this.reply('document', { number }, () => {
      const found = this.documents.find((d) => d.number === number || d.id === number);
      if (!found) this.fail('unknown_document', `没有单据 ${number}。`, `There is no document ${number}.`);
      return found;
    });
  }

  // ---- printing (fakePrinting.ts) -------------------------------------------

  readonly printing = new FakePrinting({
    reply: (command, args, body) => this.reply(command, args, body),
    fail: (code, zh, en) => this.fail(code, zh, en),
    user: () => this.user,
    mayEditMasterData: (user) => EDITS_MASTER_DATA.includes(user.role),
    language: () => this.language,
    item: (identifier) => this.item(identifier),
    document: (number) => this.documents.find((d) => d.number === number || d.id === number),
  });
  listPrinters() { return this.printing.listPrinters(); }
  setPrinter(setup: PrinterSetup) { return this.printing.setPrinter(setup); }
  previewLabel(label: LabelRequest, printer: string | null) { return this.printing.previewLabel(label, printer); }
  previewDocument(document: string) { return this.printing.previewDocument(document); }
  printLabels(request: PrintLabelsRequest) { return this.printing.printLabels(request); }
  printDocument(document: string, printer: string) { return this.printing.printDocument(document, printer); }
  printJobs(all: boolean) { return this.printing.printJobs(all); }
  retryPrintJob(job: string, printer: string | null) { return this.printing.retryPrintJob(job, printer); }
  cancelPrintJob(job: string) { return this.printing.cancelPrintJob(job); }
  onPrintJob(handler: (job: PrintJobRow) => void) { return this.printing.onPrintJob(handler); }

  // ---- devices and the cold chain (fakeColdchain.ts) ------------------------

  private coldchainPart: FakeColdchain | null = null;
  /** Made on first use: its day of readings ends at the fake's today. */
  get coldchain(): FakeColdchain {
    this.coldchainPart ??= this.makeColdchain();
    return this.coldchainPart;
  }
  private makeColdchain(): FakeColdchain {
    const cold = new FakeColdchain({
      reply: (command, args, body) => this.reply(command, args, body),
      fail: (code, zh, en) => this.fail(code, zh, en),
      user: () => this.user,
      mayEditMasterData: (user) => EDITS_MASTER_DATA.includes(user.role),
      mayResolveExcursions: (user) => RESOLVES_EXCURSIONS.includes(user.role),
      language: () => this.language,
      nowMs: () => Date.parse(this.now()),
      quarantine: (location) => {
        let units = 0;
        for (const b of this.balances.filter((x) => x.location === location && x.status === 'available' && x.quantity > 0)) {
          const quantity = b.quantity;
          units += quantity;
          b.quantity = 0;
          this.balance({ ...b, status: 'quarantined' }).quantity += quantity;
          this.record({ kind: 'quarantine', item: b.item, lot: b.lot, serial: b.serial, location, status: 'available', quantity: -quantity, reason: 'temperature_excursion', user: 'admin' });
          this.record({ kind: 'quarantine', item: b.item, lot: b.lot, serial: b.serial, location, status: 'quarantined', quantity, reason: 'temperature_excursion', user: 'admin' });
        }
        return units;
      },
      release: (location, scrap, reason) => {
        for (const b of this.balances.filter((x) => x.location === location && x.status === 'quarantined' && x.quantity > 0)) {
          const quantity = b.quantity;
          b.quantity = 0;
          if (scrap) {
            this.record({ kind: 'scrap', item: b.item, lot: b.lot, serial: b.serial, location, status: 'quarantined', quantity: -quantity, reason });
          } else {
            this.balance({ ...b, status: 'available' }).quantity += quantity;
            this.record({ kind: 'release', item: b.item, lot: b.lot, serial: b.serial, location, status: 'quarantined', quantity: -quantity, reason });
            this.record({ kind: 'release', item: b.item, lot: b.lot, serial: b.serial, location, status: 'available', quantity, reason });
          }
        }
      },
    });
    cold.stockOf = (location) => ({
      available_units: this.balances.filter((b) => b.location === location && b.status === 'available').reduce((n, b) => n + b.quantity, 0),
      quarantined_units: this.balances.filter((b) => b.location === location && b.status === 'quarantined').reduce((n, b) => n + b.quantity, 0),
    });
    return cold;
  }
  serialPorts() { return this.coldchain.serialPorts(); }
  setPortRole(role: PortRole) { return this.coldchain.setPortRole(role); }
  removePortRole(identity: string) { return this.coldchain.removePortRole(identity); }
  addSensor(sensor: SensorConfig) { return this.coldchain.addSensor(sensor); }
  deviceStates() { return this.coldchain.deviceStates(); }
  pendingSerialScans() { return this.coldchain.pendingSerialScans(); }
  acknowledgeSerialScans(seq: number) { return this.coldchain.acknowledgeSerialScans(seq); }
  pollNow() { return this.coldchain.pollNow(); }
  coldUnits() { return this.coldchain.coldUnits(); }
  readings(location: string, hours: number) { return this.coldchain.readings(location, hours); }
  excursions(all: boolean) { return this.coldchain.excursions(all); }
  resolveExcursion(id: string, reason: string, scrap: boolean) { return this.coldchain.resolveExcursion(id, reason, scrap); }
  recordManualReading(location: string, temperatureC: number) { return this.coldchain.recordManualReading(location, temperatureC); }
  importLoggerReadings(location: string, text: string, utcOffsetMinutes: number, onProgress: (progress: ColdImportProgress) => void) {
    return this.coldchain.importLoggerReadings(location, text, utcOffsetMinutes, onProgress);
  }
  onSerialScan(handler: (scan: SerialScan) => void) { return this.coldchain.onSerialScan(handler); }
  onDeviceState(handler: (state: DeviceState) => void) { return this.coldchain.onDeviceState(handler); }
  onColdchain(handler: (update: ColdchainUpdate) => void) { return this.coldchain.onColdchain(handler); }

  // ---- sync with the hospital server (fakeSync.ts) ---------------------------

  readonly sync = new FakeSync({
    reply: (command, args, body) => this.reply(command, args, body),
    fail: (code, zh, en) => this.fail(code, zh, en),
    user: () => this.user,
    mayEditMasterData: (user) => EDITS_MASTER_DATA.includes(user.role),
    language: () => this.language,
    movementCount: () => this.moves.filter((m) => m.node === 'fake-node').length,
  });
  syncStatus() { return this.sync.syncStatus(); }
  syncNow() { return this.sync.syncNow(); }
  enrolWorkstation(url: string, code: string, ca: CaCertificateFile | null) { return this.sync.enrolWorkstation(url, code, ca); }
  replaceSyncCa(ca: CaCertificateFile) { return this.sync.replaceSyncCa(ca); }
  syncReview() { return this.sync.syncReview(); }
  onSyncStatus(handler: (status: SyncStatusView) => void) { return this.sync.onSyncStatus(handler); }
  onSyncProgress(handler: (progress: SyncProgress) => void) { return this.sync.onSyncProgress(handler); }
  onSyncApplied(handler: (applied: SyncApplied) => void) { return this.sync.onSyncApplied(handler); }

  /** A receipt posted on another workstation (it reaches this one when a sync round pulls it). */
  receivedElsewhere(itemCode: string, location: string, lot: string, expiry: string | null, quantity: number) {
    if (lot) this.lots.set(this.lotKey(itemCode, lot), expiry);
    this.balance({ item: itemCode, lot, serial: '', location, status: 'available' }).quantity += quantity;
    const movement = this.record({ kind: 'receive', item: itemCode, lot, location, quantity, user: 'remote', note: 'S02' });
    movement.node = 'fake-node-s02';
  }

  // ---- stocktakes (crates/ledger/src/stocktake.rs in miniature) -------------

  private nowMs(): number { return Date.parse(this.now()); }

  /** The session user, allowed `action` by the core's permission matrix. */
  private actor(action: 'count' | 'review_stocktake'): UserView {
    const user = this.user;
    if (!user) this.fail('no_user', '请先选择操作员。', 'Choose who is working first.');
    if (!(action === 'count' ? COUNTS : REVIEWS_STOCKTAKES).includes(user.role)) {
      this.fail('forbidden', `用户 ${user.username}（${ROLE_ZH[user.role]}）无权${action === 'count' ? '盘点' : '审核盘点'}。请由有权限的人员操作。`,
        `User ${user.username} (${user.role}) may not ${action.replace('_', ' ')}. Ask someone with that permission.`);
    }
    return user;
  }

  private stocktakeOf(text: string): Stocktake {
    const found = this.stocktakeList.find((st) => st.id === text.trim() || st.number === text.trim());
    if (!found) this.fail('unknown_document', `没有单据 ${text}。`, `There is no document ${text}.`);
    return found;
  }

  private refuseUnlessOpen(st: Stocktake) {
    if (st.status === 'counting' || st.status === 'review') return;
    this.fail('stocktake_closed', `盘点单 ${st.number} ${st.status === 'posted' ? '已过账' : '已作废'}，不再接受计数。`,
      `Stocktake ${st.number} is ${st.status} and takes no more counts.`);
  }

  private invalid(field: string, zh: string, en: string): never {
    return this.fail('invalid_input', `${field} 无效：${zh}。请更正后重试。`, `Invalid ${field}: ${en}. Correct it and try again.`);
  }

  private covers(st: Stocktake, location: string, item: ItemView) {
    return (st.locations.length === 0 || st.locations.includes(location)) && (st.categories.length === 0 || st.categories.includes(item.category));
  }

  /** Scope and observations folded into one state per key (the core's `fold`). */
  private fold(st: Stocktake): Map<string, KeyState> {
    const keys = new Map<string, KeyState>();
    const state = (key: CountKey) => {
      let found = keys.get(keyOf(key));
      if (!found) {
        found = { key, onBooks: 0, inScopeOnBooks: false, round: 0, counters: new Map(), last: null };
        keys.set(keyOf(key), found);
      }
      return found;
    };
    for (const b of this.balances) {
      const it = this.items.find((i) => i.code === b.item)!;
      if (b.status !== 'available' || b.quantity === 0 || !this.covers(st, b.location, it)) continue;
      Object.assign(state({ item: b.item, lot: b.lot, serial: b.serial, location: b.location }), { onBooks: b.quantity, inScopeOnBooks: true });
    }
    for (const [id, round] of st.recounts) {
      const [item, lot, serial, location] = id.split('\u0000');
      state({ item, lot, serial, location }).round = round;
    }
    const voided = new Set(st.observations.map((o) => o.voids).filter((v): v is string => v !== null));
    for (const o of st.observations) {
      if (o.source === 'undo' || voided.has(o.id)) continue;
      const s = state(o.key);
      if (o.round !== s.round) continue;
      s.counters.set(o.counter, (s.counters.get(o.counter) ?? 0) + o.quantity);
      if (!s.last || o.hlc > s.last.hlc) s.last = o;
    }
    // A serial unit is in one place: counted at two keys, one count is wrong.
    const present = (s: KeyState) => s.key.serial !== '' && [...s.counters.values()].some((n) => n > 0);
    const seen = new Map<string, number>();
    for (const s of keys.values()) if (present(s)) seen.set(`${s.key.item}\u0000${s.key.serial}`, (seen.get(`${s.key.item}\u0000${s.key.serial}`) ?? 0) + 1);
    for (const s of keys.values()) s.serialCountedTwice = present(s) && (seen.get(`${s.key.item}\u0000${s.key.serial}`) ?? 0) > 1;
    return keys;
  }

  /**
   * Serial units counted here that the books had (available) at another key when they were seen: each such key
   * nobody counted (and none is to recount) is marked to be counted as zero as of the sighting, keys outside the
   * scope added; the later sighting decides (the core's `mark_found_elsewhere`). Returns how many were added.
   */
  private markFoundElsewhere(keys: Map<string, KeyState>): number {
    let added = 0;
    const sightings = [...keys.values()].filter((s) => s.key.serial && s.last && [...s.counters.values()].some((n) => n > 0));
    for (const seen of sightings) {
      const hlc = seen.last!.hlc;
      for (const b of this.balances) {
        if (b.item !== seen.key.item || b.serial !== seen.key.serial || b.status !== 'available') continue;
        const key = { item: b.item, lot: b.lot, serial: b.serial, location: b.location };
        const known = keys.get(keyOf(key));
        if (keyOf(key) === keyOf(seen.key) || (known && (known.counters.size > 0 || known.round > 0))) continue;
        const state: KeyState = known ?? { key, onBooks: b.quantity, inScopeOnBooks: false, round: 0, counters: new Map(), last: null };
        const zero = this.zeroAsOf(state, hlc);
        if (!zero) continue;
        if (!known) {
          added += 1;
          keys.set(keyOf(key), state);
        }
        if (!state.found || hlc > state.found.hlc) state.found = { hlc, ...zero };
      }
    }
    return added;
  }

  /** A key's counted quantity, value and flags (the core's `judge`; one station here, so never ambiguous). */
  private judge(st: Stocktake, s: KeyState) {
    if (s.found) {
      // The unit moved, it is not missing: no tolerance applies.
      const unitCost = this.items.find((i) => i.code === s.key.item)?.unit_price ?? null;
      const flags: VarianceFlag[] = ['found_elsewhere'];
      const difference = s.found.count - s.found.then;
      return { counted: s.found.count, expected: s.found.then, difference, value: decimalTimes(unitCost, difference), unitCost, flags };
    }
    const flags: VarianceFlag[] = [];
    const totals = new Set(s.counters.values());
    let counted: number | null = null;
    if (totals.size === 0) flags.push(s.round > 0 ? 'recount_pending' : 'uncounted');
    else if (totals.size === 1) counted = [...totals][0];
    else flags.push('disagreement');
    if (s.serialCountedTwice) flags.push('serial_counted_twice');
    // Counting has ended: an uncounted key shows its books as of then (what closing the scope writes off).
    const expected = st.ended !== undefined && flags.includes('uncounted')
      ? this.zeroAsOf(s, st.ended)?.then ?? 0
      : s.last?.expected ?? s.onBooks;
    if (counted !== null && !s.inScopeOnBooks && expected === 0) flags.push('not_on_books');
    const unitCost = this.items.find((i) => i.code === s.key.item)?.unit_price ?? null;
    const difference = counted === null ? null : counted - expected;
    const value = difference === null ? null : decimalTimes(unitCost, difference);
    if (difference !== null && difference !== 0) {
      const beyond = (st.toleranceQuantity !== null && Math.abs(difference) > st.toleranceQuantity)
        || (st.toleranceValue !== null && value !== null && compareAbs(value, st.toleranceValue) > 0);
      if (beyond) flags.push(s.round === 0 ? 'over_tolerance' : 'recounted');
    }
    return { counted, expected, difference, value, unitCost, flags };
  }

  private counterTotal(st: Stocktake, key: CountKey, round: number, counter: string): { effective: number; total: number } {
    const voided = new Set(st.observations.map((o) => o.voids));
    const mine = st.observations.filter((o) => keyOf(o.key) === keyOf(key) && o.round === round && o.counter === counter
      && o.source !== 'undo' && !voided.has(o.id));
    return { effective: mine.length, total: mine.reduce((n, o) => n + o.quantity, 0) };
  }

  private observationView(st: Stocktake, o: Observation): ObservationView {
    const it = this.items.find((i) => i.code === o.key.item)!;
    return {
      id: o.id, code: it.code, name: it.name, name_en: it.name_en, lot: o.key.lot || null, serial: o.key.serial || null,
      location: o.key.location, quantity: o.quantity, source: o.source,
      key_total: this.counterTotal(st, o.key, o.round, o.counter).total, round: o.round, at_ms: o.atMs,
    };
  }

  private observe(st: Stocktake, o: Omit<Observation, 'id' | 'hlc'>): Observation {
    this.observationIds += 1;
    this.hlc += 1;
    const observation = { ...o, id: `obs-${String(this.observationIds).padStart(6, '0')}`, hlc: this.hlc };
    st.observations.push(observation);
    return observation;
  }

  /** What an entry names, checked against the stocktake (the core's `resolve`). */
  private resolveEntry(st: Stocktake, entry: CountEntry): { it: ItemView; key: CountKey; expiry: string | null } {
    const it = this.item(entry.item);
    const chosen = text(entry.location);
    let location: string;
    if (chosen) location = this.location(chosen).code;
    else if (st.locations.length === 1) location = st.locations[0];
    else this.invalid('location', '本盘点单包含多个库位：请选择正在盘点的库位', 'this stocktake covers several locations: choose the one being counted');
    if (!this.covers(st, location, it)) {
      this.fail('out_of_stocktake_scope', `${location} 的 ${it.code} 不在盘点单 ${st.number} 的范围内。请核对库位，或另开盘点单。`,
        `${it.code} at ${location} is outside stocktake ${st.number}. Check the location or start another stocktake.`);
    }
    const lot = text(entry.lot);
    const serial = text(entry.serial);
    if (it.serialized && !serial) this.fail('serial_required', `${it.code} 按序列号管理，必须逐个扫描或填写序列号。`, `${it.code} is serial-tracked: scan or enter the serial of each unit.`);
    if (!it.serialized && serial) this.fail('serial_not_tracked', `${it.code} 不按序列号管理，请去掉序列号。`, `${it.code} is not serial-tracked; leave the serial empty.`);
    let expiry = lot ? entry.expiry : null;
    if (lot && this.lots.has(this.lotKey(it.code, lot))) {
      const existing = this.expiryOf(it.code, lot);
      if (existing && entry.expiry && existing !== entry.expiry) {
        this.fail('lot_expiry_mismatch', `批号 ${lot} 已登记的效期是 ${existing}，不是 ${entry.expiry}。请核对标签。`,
          `Lot ${lot} is recorded as expiring on ${existing}, not ${entry.expiry}. Check the label.`);
      }
      expiry = existing ?? entry.expiry;
    }
    const key = { item: it.code, lot, serial, location };
    const quarantined = this.balances.filter((b) => keyOf(b) === keyOf(key) && b.status === 'quarantined').reduce((n, b) => n + b.quantity, 0);
    if (quarantined > 0) {
      this.fail('key_quarantined', `${location} 的 ${it.code} 批号 ${lot} 有 ${quarantined} 件处于隔离状态，不能盘点。请先处理温度超标或召回。`,
        `${it.code} lot ${lot} at ${location} has ${quarantined} in quarantine and cannot be counted. Resolve the excursion or recall first.`);
    }
    return { it, key, expiry };
  }

  /** In review only keys sent for a recount take counts (the core's `refuse_in_review`). */
  private refuseInReview(st: Stocktake, round: number) {
    if (st.status === 'review' && round === 0) {
      this.fail('stocktake_closed', `盘点单 ${st.number} 正在审核（只接受复盘的品规），不再接受计数。`,
        `Stocktake ${st.number} is review and takes no more counts except for keys sent for a recount.`);
    }
  }

  private onHand(key: CountKey): number {
    return this.balances.find((b) => keyOf(b) === keyOf(key) && b.status === 'available')?.quantity ?? 0;
  }

  listStocktakes(limit: number): Promise<StocktakeSummary[]> {
    return this.reply('list_stocktakes', { limit }, () => [...this.stocktakeList].reverse().slice(0, limit).map((st) => ({
      id: st.id, number: st.number, status: st.status, blind: st.blind, locations: st.locations, started_at_ms: st.startedAtMs,
    })));
  }

  startStocktake(request: StocktakeRequest): Promise<StocktakeRef> {
    return this.reply('start_stocktake', { request }, () => {
      const tq = request.tolerance_quantity;
      if (tq !== null && (tq < 0 || tq > QUANTITY_MAX)) this.invalid('tolerance_quantity', `应在 0 到 ${QUANTITY_MAX} 之间`, `between 0 and ${QUANTITY_MAX}`);
      const tv = text(request.tolerance_value);
      const value = tv ? parseDecimal(tv) : null;
      if (tv && (!value || value.units < 0n)) {
        this.invalid('tolerance_value', `“${tv}” 不是金额，应如 500 或 99.50`, `'${tv}' is not an amount such as 500 or 99.50`);
      }
      const user = this.actor('count');
      const locations: string[] = [];
      for (const code of request.locations.map((c) => c.trim()).filter(Boolean)) {
        if (!locations.includes(this.location(code).code)) locations.push(code);
      }
      const number = this.nextNumber('stocktake');
      this.stocktakeList.push({
        id: `st-${number}`, number, status: 'counting', blind: request.blind, locations: [...locations].sort(),
        categories: request.categories.map((c) => c.trim()).filter(Boolean), toleranceQuantity: tq, toleranceValue: tv || null,
        startedBy: user.username, startedAtMs: this.nowMs(), observations: [], recounts: new Map(), frozen: null,
      });
      return { id: `st-${number}`, number };
    });
  }

  stocktakeView(stocktake: string): Promise<StocktakeView> {
    return this.reply('stocktake_view', { stocktake }, () => {
      const st = this.stocktakeOf(stocktake);
      const user = this.actor('count');
      const keys = [...this.fold(st).values()];
      const mine = st.observations
        .filter((o) => o.counter === user.username && o.source !== 'undo')
        .sort((a, b) => b.atMs - a.atMs || b.hlc - a.hlc)
        .slice(0, LAST_SCANS_SHOWN);
      return {
        id: st.id, number: st.number, status: st.status, blind: st.blind, locations: st.locations, categories: st.categories,
        tolerance_quantity: st.toleranceQuantity, tolerance_value: st.toleranceValue, started_by: st.startedBy,
        started_at_ms: st.startedAtMs, keys_in_scope: keys.length, keys_counted: keys.filter((k) => k.counters.size > 0).length,
        observations: st.observations.length, last_scans: mine.map((o) => this.observationView(st, o)),
      };
    });
  }

  recordCount(stocktake: string, entry: CountEntry): Promise<ObservationView> {
    return this.reply('record_count', { stocktake, entry }, () => {
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      const user = this.actor('count');
      const { it, key, expiry } = this.resolveEntry(st, entry);
      const round = st.recounts.get(keyOf(key)) ?? 0;
      this.refuseInReview(st, round);
      const quantity = entry.quantity ?? 1;
      if (quantity < 0) this.invalid('quantity', '盘点数量不能为负', 'a count cannot be negative');
      if (quantity > QUANTITY_MAX) {
        this.fail('quantity_too_large', `数量 ${quantity} 超过单行上限 ${QUANTITY_MAX}。请核对数量。`, `The quantity ${quantity} exceeds the per-line limit of ${QUANTITY_MAX}. Check the quantity.`);
      }
      if (it.serialized) {
        if (quantity > 1) this.fail('serial_quantity_not_one', `序列号 ${key.serial} 每次只能移动 1 件，不能是 ${quantity}。`, `Serial ${key.serial} moves one unit at a time, not ${quantity}.`);
        const { effective, total } = this.counterTotal(st, key, round, user.username);
        if (effective > 0 && total > 0 && quantity > 0) {
          this.fail('serial_already_counted', `${it.code} 序列号 ${key.serial} 已经计过数，没有重复计入。`,
            `Serial ${key.serial} of ${it.code} is already counted; it was not counted twice.`);
        }
      }
      const o = this.observe(st, {
        key, expiry, quantity, source: entry.quantity === null ? 'scan' : 'typed', round, counter: user.username,
        atMs: this.nowMs(), voids: null, expected: this.onHand(key),
      });
      return this.observationView(st, o);
    });
  }

  private effective(st: Stocktake, id: string): Observation | undefined {
    return st.observations.find((o) => o.id === id.trim() && o.source !== 'undo' && !st.observations.some((v) => v.voids === o.id));
  }

  setCountQuantity(stocktake: string, observation: string, quantity: number): Promise<ObservationView> {
    return this.reply('set_count_quantity', { stocktake, observation, quantity }, () => {
      if (!Number.isInteger(quantity) || quantity < 0 || quantity > QUANTITY_MAX) this.invalid('quantity', `应在 0 到 ${QUANTITY_MAX} 之间`, `between 0 and ${QUANTITY_MAX}`);
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      const user = this.actor('count');
      const found = this.effective(st, observation);
      const target = found?.counter === user.username ? found : undefined;
      if (!target) this.fail('unknown_observation', `没有可修改的计数记录 ${observation}（可能已撤销）。`, `There is no count ${observation} to change (it may have been undone).`);
      this.refuseInReview(st, target.round);
      if (this.items.find((i) => i.code === target.key.item)?.serialized && quantity > 1) {
        this.fail('serial_quantity_not_one', `序列号 ${target.key.serial} 每次只能移动 1 件，不能是 ${quantity}。`, `Serial ${target.key.serial} moves one unit at a time, not ${quantity}.`);
      }
      const o = this.observe(st, {
        key: target.key, expiry: target.expiry, quantity, source: 'typed', round: target.round, counter: user.username,
        atMs: this.nowMs(), voids: target.id, expected: target.expected,
      });
      return this.observationView(st, o);
    });
  }

  undoCount(stocktake: string): Promise<ObservationView | null> {
    return this.reply('undo_count', { stocktake }, () => {
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      const user = this.actor('count');
      const newest = st.observations
        .filter((o) => o.counter === user.username && this.effective(st, o.id) === o)
        .sort((a, b) => b.atMs - a.atMs || b.hlc - a.hlc)[0];
      if (!newest) return null;
      const before = this.observationView(st, newest);
      this.refuseInReview(st, newest.round);
      this.observe(st, {
        key: newest.key, expiry: newest.expiry, quantity: 0, source: 'undo', round: newest.round, counter: user.username,
        atMs: this.nowMs(), voids: newest.id, expected: newest.expected,
      });
      return before;
    });
  }

  private variance(st: Stocktake): VarianceReport {
    const rows: VarianceRow[] = [];
    let needing = 0;
    let over = 0;
    const keys = this.fold(st);
    const outside = this.markFoundElsewhere(keys);
    const states = [...keys.values()].sort((a, b) => keyOf(a.key).localeCompare(keyOf(b.key)));
    for (const s of states) {
      const it = this.items.find((i) => i.code === s.key.item)!;
      const j = this.judge(st, s);
      needing += j.flags.some(blocks) ? 1 : 0;
      over += j.flags.includes('over_tolerance') ? 1 : 0;
      rows.push({
        code: it.code, name: it.name, name_en: it.name_en, specification: it.specification, unit: it.unit,
        lot: s.key.lot || null, serial: s.key.serial || null, location: s.key.location, expected: j.expected,
        counted: j.counted, difference: j.difference, unit_cost: j.unitCost, value: j.value,
        counters: Object.fromEntries(s.counters), round: s.round, counted_at_ms: s.last?.atMs ?? null, flags: j.flags,
      });
    }
    // Largest absolute value first, then largest difference; ties keep key order.
    rows.sort((a, b) => compareAbs(b.value, a.value) || Math.abs(b.difference ?? 0) - Math.abs(a.difference ?? 0));
    return {
      id: st.id, number: st.number, status: st.status, blind: st.blind, keys_in_scope: rows.length - outside,
      keys_counted: states.filter((s) => s.counters.size > 0).length, keys_needing_recount: needing, keys_over_tolerance: over,
      total_value: decimalSum(rows.map((r) => r.value)), rows,
    };
  }

  stocktakeVariance(stocktake: string): Promise<VarianceReport> {
    return this.reply('stocktake_variance', { stocktake }, () => {
      const st = this.stocktakeOf(stocktake);
      this.actor(st.blind ? 'review_stocktake' : 'count');
      return st.frozen ?? this.variance(st);
    });
  }

  requestRecount(stocktake: string, keys: RecountKey[]): Promise<number> {
    return this.reply('request_recount', { stocktake, keys }, () => {
      if (keys.length === 0) this.invalid('keys', '请指定 1 到 30000 个品规', 'name between 1 and 30000 keys');
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      this.actor('review_stocktake');
      for (const k of keys) {
        const key = { item: this.item(k.item).code, lot: text(k.lot), serial: text(k.serial), location: this.location(k.location).code };
        st.recounts.set(keyOf(key), (st.recounts.get(keyOf(key)) ?? 0) + 1);
      }
      return keys.length;
    });
  }

  finishCounting(stocktake: string): Promise<void> {
    return this.reply('finish_counting', { stocktake }, () => {
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      this.actor('review_stocktake');
      // The end stays the first one: a closed scope zeroes uncounted keys as of it.
      if (st.status === 'counting' && st.ended === undefined) {
        this.hlc += 1;
        st.ended = this.hlc;
      }
      st.status = 'review';
    });
  }

  /**
   * As the core's zero_as_of: zeroing an uncounted key as of the end of
   * counting writes off the books of then, less what has left since (it was
   * there); nothing when the key was empty then or a later count stands.
   */
  private zeroAsOf(s: KeyState, at: number): { then: number; count: number } | null {
    const later = this.moves.filter((m) => m.hlc > at && m.item === s.key.item && (m.lot ?? '') === s.key.lot
      && (m.serial ?? '') === s.key.serial && m.location === s.key.location && m.status === 'available');
    if (later.some((m) => m.kind === 'count')) return null;
    const after = later.reduce((n, m) => n + m.quantity, 0);
    const then = this.balance({ ...s.key, status: 'available' }).quantity - after;
    return then === 0 ? null : { then, count: Math.max(0, -after) };
  }

  cancelStocktake(stocktake: string): Promise<void> {
    return this.reply('cancel_stocktake', { stocktake }, () => {
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      this.actor('review_stocktake');
      st.status = 'cancelled';
    });
  }

  /**
   * One count per counted key as of its last scan: the key's balance becomes
   * the count plus what moved on it after the scan (issues after the shelf
   * was counted are subtracted, earlier ones absorbed).
   */
  postStocktake(stocktake: string, request: PostStocktakeRequest): Promise<PostedStocktake> {
    return this.reply('post_stocktake', { stocktake, request }, () => {
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      const user = this.actor('review_stocktake');
      const keys = this.fold(st);
      this.markFoundElsewhere(keys);
      const judged = [...keys.values()].map((s) => ({ s, j: this.judge(st, s) }));
      const blocking = judged.filter(({ j }) => j.flags.some(blocks)).length;
      if (blocking > 0) {
        this.fail('stocktake_needs_recount', `盘点单 ${st.number} 有 ${blocking} 个品规需要复盘（盘点人结果不一致、复盘未完成，或同一序列号在两处盘到）。请复盘后再过账。`,
          `Stocktake ${st.number} has ${blocking} keys that need a recount (counters disagree, a recount is pending, or one serial was counted in two places). Recount them, then post.`);
      }
      const over = judged.filter(({ j }) => j.flags.includes('over_tolerance')).length;
      if (over > 0 && !request.accept_over_tolerance) {
        this.fail('stocktake_over_tolerance', `盘点单 ${st.number} 有 ${over} 个品规差异超出允差。请复盘，或确认接受差异后过账。`,
          `Stocktake ${st.number} has ${over} keys whose difference exceeds the tolerance. Recount them, or accept the differences when posting.`);
      }
      const frozen = this.variance(st);
      const posted: PostedStocktake = { id: st.id, number: st.number, movements: 0, zeroed: 0, untouched: 0, found_elsewhere: 0 };
      const kept: VarianceRow[] = [];
      for (const { s, j } of judged) {
        let counted: number;
        let since: number;
        if (j.counted !== null && s.last) {
          counted = j.counted;
          since = s.last.hlc;
        } else if (s.found) {
          // Seen elsewhere: zero here as of the sighting.
          counted = s.found.count;
          since = s.found.hlc;
          posted.found_elsewhere += 1;
        } else if (request.close_scope && j.flags.includes('uncounted')) {
          if (st.ended === undefined) {
            counted = 0;
            since = this.hlc;
          } else {
            const zero = this.zeroAsOf(s, st.ended);
            if (!zero) {
              posted.untouched += 1;
              continue;
            }
            counted = zero.count;
            since = st.ended;
          }
          posted.zeroed += 1;
        } else {
          posted.untouched += 1;
          continue;
        }
        const after = this.moves
          .filter((m) => m.hlc > since && m.item === s.key.item && (m.lot ?? '') === s.key.lot && (m.serial ?? '') === s.key.serial
            && m.location === s.key.location && m.status === 'available')
          .reduce((n, m) => (m.kind === 'count' ? m.quantity : n + m.quantity), 0);
        const hasLaterCount = this.moves.some((m) => m.hlc > since && m.kind === 'count' && m.item === s.key.item
          && (m.lot ?? '') === s.key.lot && (m.serial ?? '') === s.key.serial && m.location === s.key.location);
        if (s.key.lot && !this.lots.has(this.lotKey(s.key.item, s.key.lot))) this.lots.set(this.lotKey(s.key.item, s.key.lot), s.last?.expiry ?? null);
        this.balance({ ...s.key, status: 'available' }).quantity = hasLaterCount ? after : counted + after;
        this.record({
          kind: 'count', item: s.key.item, lot: s.key.lot, serial: s.key.serial, location: s.key.location, quantity: counted,
          expected_quantity: j.expected, unit_cost: j.unitCost, user: s.last?.counter ?? user.username, document: st.id,
          document_number: st.number,
        });
        posted.movements += 1;
        const row = frozen.rows.find((r) => r.code === s.key.item && (r.lot ?? '') === s.key.lot && (r.serial ?? '') === s.key.serial
          && r.location === s.key.location)!;
        kept.push({ ...row, counted, difference: counted - j.expected, value: decimalTimes(j.unitCost, counted - j.expected), counters: {}, round: 0 });
      }
      st.status = 'posted';
      st.frozen = {
        ...frozen, status: 'posted', keys_in_scope: kept.length, keys_counted: kept.length, keys_needing_recount: 0,
        keys_over_tolerance: kept.filter((r) => r.flags.includes('over_tolerance')).length,
        total_value: decimalSum(kept.map((r) => r.value)), rows: kept,
      };
      return posted;
    });
  }

  /** As the shell's import_counts: each line read as a scan, every line recorded or none. */
  importCounts(stocktake: string, data: string, location: string | null, onProgress: (progress: ImportProgress) => void): Promise<ImportSummary> {
    return this.reply('import_counts', { stocktake, text: data, location }, () => {
      const lineError = (line: number, error: unknown): never => {
        const inner = error as { message: string };
        return this.fail('import_line', `第 ${line} 行：${inner.message} 文件未导入任何数据。`, `Line ${line}: ${inner.message} Nothing from the file was imported.`);
      };
      const lines = parseImportText(data);
      if (lines.length === 0) this.fail('empty_document', '单据没有明细行。请至少添加一行。', 'The document has no lines. Add at least one line.');
      const entries = lines.map((line, index) => {
        let entry: CountEntry;
        try {
          const scan = this.scan(line.data);
          if (scan.candidates.length > 0) {
            this.fail('unreadable_barcode', `无法识别条码 ${line.data}：条码可以读成 ${scan.candidates.length} 种不同的批号或序列号（扫描枪丢失了分隔符）。请在盘点界面逐个扫描该品规。`,
              `Cannot read the barcode ${line.data}: it reads ${scan.candidates.length} different ways (the scanner lost a separator). Scan that item on the stocktake screen instead.`);
          }
          if (!scan.item) {
            const code = scan.reading.di ?? scan.reading.gtin ?? line.data;
            this.fail('unknown_item', `没有编码为 ${code} 的品规。请检查编码，或先新建该品规。`, `No item has the code ${code}. Check the code or create the item first.`);
          }
          entry = {
            user: '', item: scan.item.code, lot: scan.reading.lot, serial: scan.reading.serial, expiry: scan.reading.expiry,
            location, quantity: line.quantity, barcode: line.data,
          };
        } catch (error) {
          return lineError(line.line, error);
        }
        onProgress({ stage: 'reading', done: index + 1, total: lines.length });
        return entry;
      });
      const st = this.stocktakeOf(stocktake);
      this.refuseUnlessOpen(st);
      const user = this.actor('count');
      const serials = new Map<string, number>();
      const planned = entries.map((entry, index) => {
        try {
          const resolved = this.resolveEntry(st, entry);
          const round = st.recounts.get(keyOf(resolved.key)) ?? 0;
          this.refuseInReview(st, round);
          const quantity = entry.quantity ?? 1;
          if (quantity > QUANTITY_MAX || (resolved.it.serialized && quantity > 1)) {
            this.invalid('quantity', `${resolved.it.code} 不能计数 ${quantity}`, `${quantity} cannot be counted for ${resolved.it.code}`);
          }
          if (resolved.it.serialized) {
            const id = keyOf(resolved.key);
            const total = (serials.get(id) ?? this.counterTotal(st, resolved.key, round, user.username).total) + quantity;
            if (total > 1) {
              this.fail('serial_already_counted', `${resolved.it.code} 序列号 ${resolved.key.serial} 已经计过数，没有重复计入。`,
                `Serial ${resolved.key.serial} of ${resolved.it.code} is already counted; it was not counted twice.`);
            }
            serials.set(id, total);
          }
          return { ...resolved, quantity, line: lines[index] };
        } catch (error) {
          return lineError(lines[index].line, error);
        }
      });
      planned.forEach(({ key, expiry, quantity, line }, index) => {
        this.observe(st, {
          key, expiry, quantity, source: 'import', round: st.recounts.get(keyOf(key)) ?? 0, counter: user.username,
          atMs: line.atMs ?? this.nowMs(), voids: null, expected: this.onHand(key),
        });
        onProgress({ stage: 'recording', done: index + 1, total: lines.length });
      });
      return { observations: planned.length, units: planned.reduce((n, p) => n + p.quantity, 0) };
    });
  }
}

/**
 * A batch scanner's dump as the core's `parse_import` reads it (abridged): one
 * scan per line, then optionally a quantity and a device time, separated by
 * tabs, commas or semicolons; blank lines skipped. Times are taken as UTC here.
 */
export function parseImportText(data: string): { line: number; data: string; quantity: number | null; atMs: number | null }[] {
  const lines: { line: number; data: string; quantity: number | null; atMs: number | null }[] = [];
  data.split(/\r?\n/).forEach((raw, index) => {
    if (!raw.trim()) return;
    const separator = ['\t', ',', ';'].find((c) => raw.includes(c));
    const fields = separator ? raw.split(separator) : [raw];
    let atMs: number | null = null;
    let quantity: number | null = null;
    const last = () => fields[fields.length - 1].trim();
    if (fields.length > 1 && /^\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}(:\d{2})?$/.test(last())) {
      atMs = Date.parse(`${last().replace(/\//g, '-').replace(' ', 'T')}Z`);
      fields.pop();
    }
    if (fields.length > 1 && /^\d+$/.test(last())) {
      quantity = Number(last());
      fields.pop();
    }
    lines.push({ line: index + 1, data: fields.join(separator ?? '').trim(), quantity, atMs });
  });
  return lines;
}
