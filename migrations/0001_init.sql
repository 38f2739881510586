-- MedLedger schema, version 1.
-- Forward-only: a later migration is a new numbered file; this one never changes
-- once released. Ids are UUIDs stored as 16-byte BLOBs; quantities are INTEGER
-- base units; money is a decimal string (rust_decimal), never REAL.
-- Closed sets are checked as `x = 'a' OR x = 'b' …`, not `x IN (…)`: SQLite
-- builds a temporary b-tree for an IN list of three or more values every time
-- a CHECK runs, which was a measurable share of posting a movement.

-- This workstation (or server). Exactly one row, made by `init`.
CREATE TABLE node (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    id             BLOB    NOT NULL,
    site_code      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    -- Hybrid logical clock high-water mark: (physical ms << 16) | counter.
    -- Written in the same database transaction as every stamped event, so a
    -- restart never hands out a timestamp at or below one already used.
    hlc_high       INTEGER NOT NULL
);

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role = 'clerk' OR role = 'stocktaker' OR role = 'department' OR
                                       role = 'manager' OR role = 'purchasing' OR role = 'auditor' OR
                                       role = 'admin'),
    language      TEXT NOT NULL DEFAULT 'zh' CHECK (language IN ('zh','en')),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0,1)),
    created_hlc   INTEGER NOT NULL
);

CREATE TABLE suppliers (
    id             BLOB PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    name_en        TEXT NOT NULL DEFAULT '',
    contact_phone  TEXT NOT NULL DEFAULT '',
    created_hlc    INTEGER NOT NULL
);

CREATE TABLE departments (
    id              BLOB PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    name_en         TEXT NOT NULL DEFAULT '',
    cost_centre     TEXT NOT NULL DEFAULT '',
    monthly_budget  TEXT,            -- decimal, CNY
    created_hlc     INTEGER NOT NULL
);

CREATE TABLE locations (
    id             BLOB PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    name_en        TEXT NOT NULL DEFAULT '',
    kind           TEXT NOT NULL CHECK (kind = 'storeroom' OR kind = 'department' OR kind = 'cold'),
    department_id  BLOB REFERENCES departments(id),
    min_temp_c     TEXT,             -- decimal °C, cold units
    max_temp_c     TEXT,
    created_hlc    INTEGER NOT NULL
);

CREATE TABLE items (
    id                BLOB PRIMARY KEY,
    code              TEXT NOT NULL UNIQUE,   -- the primary identifier (usually the GTIN)
    name              TEXT NOT NULL,
    name_en           TEXT NOT NULL DEFAULT '',
    specification     TEXT NOT NULL DEFAULT '',
    manufacturer      TEXT NOT NULL DEFAULT '',
    registration_no   TEXT NOT NULL DEFAULT '',
    risk_class        TEXT NOT NULL DEFAULT '' CHECK (risk_class = '' OR risk_class = 'I' OR risk_class = 'II' OR
                                                      risk_class = 'III'),
    category          TEXT NOT NULL DEFAULT '',
    unit              TEXT NOT NULL DEFAULT '',
    pack_size         INTEGER NOT NULL DEFAULT 1 CHECK (pack_size >= 1),
    serialized        INTEGER NOT NULL DEFAULT 0 CHECK (serialized IN (0,1)),
    implantable       INTEGER NOT NULL DEFAULT 0 CHECK (implantable IN (0,1)),
    cold_chain        INTEGER NOT NULL DEFAULT 0 CHECK (cold_chain IN (0,1)),
    min_temp_c        TEXT,
    max_temp_c        TEXT,
    unit_price        TEXT,
    default_supplier_id BLOB REFERENCES suppliers(id),
    reorder_point     INTEGER NOT NULL DEFAULT 0,
    created_hlc       INTEGER NOT NULL
);

-- Every identifier an item is known by: GTIN (= UDI-DI), HIBC, MA code DI, internal.
CREATE TABLE item_identifiers (
    identifier  TEXT PRIMARY KEY,
    scheme      TEXT NOT NULL CHECK (scheme = 'gtin' OR scheme = 'hibc' OR scheme = 'ma' OR
                                     scheme = 'internal'),
    item_id     BLOB NOT NULL REFERENCES items(id)
) WITHOUT ROWID;
CREATE INDEX item_identifiers_item ON item_identifiers(item_id);

CREATE TABLE lots (
    item_id        BLOB NOT NULL REFERENCES items(id),
    lot            TEXT NOT NULL,
    expires_on     TEXT,             -- YYYY-MM-DD, usable through this day
    produced_on    TEXT,
    created_hlc    INTEGER NOT NULL,
    PRIMARY KEY (item_id, lot)
) WITHOUT ROWID;

-- Documents: drafts are editable; once posted (or cancelled) a document is frozen.
CREATE TABLE documents (
    id              BLOB PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind = 'receipt' OR kind = 'issue' OR kind = 'transfer' OR
                                         kind = 'stocktake' OR kind = 'correction' OR kind = 'return' OR
                                         kind = 'scrap' OR kind = 'recall'),
    number          TEXT UNIQUE,      -- given at posting: RK-S01-000001
    status          TEXT NOT NULL CHECK (status = 'draft' OR status = 'posted' OR status = 'cancelled'),
    node_id         BLOB NOT NULL,
    created_by      BLOB NOT NULL REFERENCES users(id),
    created_at_ms   INTEGER NOT NULL,
    posted_by       BLOB REFERENCES users(id),
    posted_hlc      INTEGER,
    posted_at_ms    INTEGER,
    location_id     BLOB REFERENCES locations(id),
    to_location_id  BLOB REFERENCES locations(id),
    department_id   BLOB REFERENCES departments(id),
    supplier_id     BLOB REFERENCES suppliers(id),
    override_by     BLOB REFERENCES users(id),
    reason          TEXT,
    corrects_document BLOB REFERENCES documents(id),
    note            TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- The foreign key is checked at commit so a new document's lines can be
-- written before the document row itself, which is then inserted already
-- posted (one write instead of an insert and an update).
CREATE TABLE document_lines (
    document_id   BLOB NOT NULL REFERENCES documents(id) DEFERRABLE INITIALLY DEFERRED,
    line_no       INTEGER NOT NULL,
    item_id       BLOB NOT NULL REFERENCES items(id),
    lot           TEXT NOT NULL DEFAULT '',
    expires_on    TEXT,
    produced_on   TEXT,
    serial        TEXT NOT NULL DEFAULT '',
    quantity      INTEGER NOT NULL,
    unit_cost     TEXT,
    PRIMARY KEY (document_id, line_no)
) WITHOUT ROWID;

-- Document numbers are unique per node without coordination: the site code is
-- part of the number and each node counts its own sequence per prefix.
CREATE TABLE document_sequences (
    prefix  TEXT PRIMARY KEY,
    last    INTEGER NOT NULL
) WITHOUT ROWID;

-- Cached balance per key, written in the same transaction as the movement
-- that changes it. Always equal to the fold of the key's movements
-- (ledger::balance::verify proves it). lot/serial '' = none.
CREATE TABLE balances (
    key_id           INTEGER PRIMARY KEY,
    item_id          BLOB NOT NULL REFERENCES items(id),
    lot              TEXT NOT NULL,
    serial           TEXT NOT NULL,
    location_id      BLOB NOT NULL REFERENCES locations(id),
    status           TEXT NOT NULL CHECK (status IN ('available','quarantined')),
    expires_on       TEXT,            -- copied from the lot for fast stock lists
    quantity         INTEGER NOT NULL,
    last_count_hlc   INTEGER,         -- the newest count movement of this key
    last_count_node  BLOB,
    UNIQUE (item_id, lot, serial, location_id, status)
);
CREATE INDEX balances_location ON balances(location_id, item_id);
CREATE INDEX balances_serial ON balances(item_id, serial) WHERE serial <> '';
-- Tracing a lot goes balances → movements_key_hlc: an index here is written
-- once per new key, one on movements.lot would be written by every movement.
CREATE INDEX balances_lot ON balances(lot) WHERE lot <> '';

-- The ledger. Append-only: triggers below abort UPDATE and DELETE.
CREATE TABLE movements (
    id                 BLOB PRIMARY KEY,     -- UUIDv7, made locally before any sync
    hlc                INTEGER NOT NULL,
    node_id            BLOB NOT NULL,
    recorded_at_ms     INTEGER NOT NULL,     -- wall time at the recording node
    user_id            BLOB NOT NULL REFERENCES users(id),
    kind               TEXT NOT NULL CHECK (kind = 'receive' OR kind = 'issue' OR kind = 'transfer_out' OR
                                            kind = 'transfer_in' OR kind = 'return_from_department' OR
                                            kind = 'return_to_supplier' OR kind = 'adjust' OR kind = 'count' OR
                                            kind = 'quarantine' OR kind = 'release' OR kind = 'scrap' OR
                                            kind = 'consume'),
    item_id            BLOB NOT NULL REFERENCES items(id),
    lot                TEXT NOT NULL DEFAULT '',
    serial             TEXT NOT NULL DEFAULT '',
    location_id        BLOB NOT NULL REFERENCES locations(id),
    status             TEXT NOT NULL CHECK (status IN ('available','quarantined')),
    -- Signed change in base units; for kind = 'count' the counted quantity,
    -- which sets the key's balance as of this movement's HLC.
    quantity           INTEGER NOT NULL,
    expected_quantity  INTEGER,              -- count: what this station knew at count time
    unit_cost          TEXT,
    department_id      BLOB REFERENCES departments(id),
    supplier_id        BLOB REFERENCES suppliers(id),
    document_id        BLOB REFERENCES documents(id),
    reason             TEXT,
    corrects           BLOB REFERENCES movements(id),
    override_by        BLOB REFERENCES users(id),
    note               TEXT NOT NULL DEFAULT '',
    key_id             INTEGER NOT NULL REFERENCES balances(key_id)
) WITHOUT ROWID;
CREATE INDEX movements_key_hlc ON movements(key_id, hlc, node_id);
CREATE INDEX movements_hlc ON movements(hlc, node_id);
CREATE INDEX movements_document ON movements(document_id);
CREATE INDEX movements_serial ON movements(serial) WHERE serial <> '';
CREATE UNIQUE INDEX movements_corrects ON movements(corrects) WHERE corrects IS NOT NULL;

CREATE TRIGGER movements_are_immutable_update BEFORE UPDATE ON movements
BEGIN
    SELECT RAISE(ABORT, 'movements are immutable: correct with a compensating movement');
END;
CREATE TRIGGER movements_are_immutable_delete BEFORE DELETE ON movements
BEGIN
    SELECT RAISE(ABORT, 'movements are immutable: correct with a compensating movement');
END;

CREATE TRIGGER posted_documents_are_frozen BEFORE UPDATE ON documents
WHEN OLD.status <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'a posted or cancelled document cannot change');
END;
CREATE TRIGGER posted_documents_are_kept BEFORE DELETE ON documents
WHEN OLD.status <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'a posted or cancelled document cannot be deleted');
END;
CREATE TRIGGER posted_lines_are_frozen_insert BEFORE INSERT ON document_lines
WHEN (SELECT status FROM documents WHERE id = NEW.document_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'lines of a posted document cannot change');
END;
CREATE TRIGGER posted_lines_are_frozen_update BEFORE UPDATE ON document_lines
WHEN (SELECT status FROM documents WHERE id = OLD.document_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'lines of a posted document cannot change');
END;
CREATE TRIGGER posted_lines_are_frozen_delete BEFORE DELETE ON document_lines
WHEN (SELECT status FROM documents WHERE id = OLD.document_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'lines of a posted document cannot change');
END;
