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
import type { DepartmentView } from '../bindings/DepartmentView';
import type { DocumentKind } from '../bindings/DocumentKind';
import type { DocumentLineView } from '../bindings/DocumentLineView';
import type { DocumentRequest } from '../bindings/DocumentRequest';
import type { DocumentView } from '../bindings/DocumentView';
import type { ItemView } from '../bindings/ItemView';
import type { Lang } from '../bindings/Lang';
import type { LocationView } from '../bindings/LocationView';
import type { LotChoice } from '../bindings/LotChoice';
import type { MovementFilter } from '../bindings/MovementFilter';
import type { MovementKind } from '../bindings/MovementKind';
import type { MovementView } from '../bindings/MovementView';
import type { NewItem } from '../bindings/NewItem';
import type { ScanReading } from '../bindings/ScanReading';
import type { StockFilter } from '../bindings/StockFilter';
import type { StockRow } from '../bindings/StockRow';
import type { StockStatus } from '../bindings/StockStatus';
import type { SupplierView } from '../bindings/SupplierView';
import type { UserView } from '../bindings/UserView';
import type { Backend } from './backend';
import { BarcodeError, GS, gs1CheckDigit, readBarcode } from './fakeBarcode';

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

const isGtin = (code: string) => /^(\d{8}|\d{12,14})$/.test(code) && gs1CheckDigit(code.slice(0, -1)) === Number(code[code.length - 1]);

/** A scan as a plain identifier: no terminator, padding or AIM identifier (as src-tauri/src/scan.rs). */
function plainCode(data: string): string {
  const text = data.replace(new RegExp(`^[\\s${GS}]+|[\\s${GS}]+$`, 'g'), '');
  return /^\][0-9A-Za-z]{2}./.test(text) ? text.slice(3) : text;
}

const clone = <T,>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
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
    return this.reply('parse_barcode', { data }, (): BarcodeScan => {
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
    });
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
}
