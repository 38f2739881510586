-- Sync with the hospital server (product brief §4–5). The same schema serves a
-- workstation and the server: a workstation uses sync_state and the change
-- log; the server also keeps every event it accepted in sync_events, the
-- enrolled nodes and the one-time enrolment codes.

-- Master data as last-writer-wins registers per field. Every change to an
-- item, location, department, supplier or user — made here or pulled — is
-- kept in the change log (the audit trail, and this node's outbox: its own
-- changes above sync_state.pushed_change_seq are still to push).
CREATE TABLE master_changes (
    seq        INTEGER PRIMARY KEY,
    id         BLOB    NOT NULL UNIQUE,
    hlc        INTEGER NOT NULL,
    node_id    BLOB    NOT NULL,
    entity     TEXT    NOT NULL CHECK (entity = 'user' OR entity = 'supplier' OR entity = 'department' OR
                                       entity = 'location' OR entity = 'item'),
    entity_id  BLOB    NOT NULL,
    -- JSON object: field → value (uuids as 32 hex digits, decimals as text).
    fields     TEXT    NOT NULL,
    -- JSON object: safety field → [hlc, node] of the value this change replaced
    -- where it was made (to tell a concurrent edit from a later one).
    base       TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX master_changes_entity ON master_changes(entity, entity_id);
CREATE INDEX master_changes_node ON master_changes(node_id, seq);

-- The winning version of each field: the value with the greatest (hlc, node).
-- The entity tables hold the same values, materialised.
CREATE TABLE master_fields (
    entity     TEXT    NOT NULL,
    entity_id  BLOB    NOT NULL,
    field      TEXT    NOT NULL,
    value      TEXT    NOT NULL,             -- JSON
    hlc        INTEGER NOT NULL,
    node_id    BLOB    NOT NULL,
    PRIMARY KEY (entity, entity_id, field)
) WITHOUT ROWID;
-- Who claims a code or an identifier (duplicate codes are settled by creation order).
CREATE INDEX master_fields_value ON master_fields(entity, field, value);

-- Record the master data that exists already as this node's changes, so it is pushed.
INSERT INTO master_changes (id, hlc, node_id, entity, entity_id, fields)
SELECT randomblob(16), created_hlc, (SELECT id FROM node), 'user', id,
       json_object('username', username, 'display_name', display_name, 'role', role, 'language', language,
                   'active', active, 'created_hlc', created_hlc)
FROM users WHERE EXISTS (SELECT 1 FROM node);
INSERT INTO master_changes (id, hlc, node_id, entity, entity_id, fields)
SELECT randomblob(16), created_hlc, (SELECT id FROM node), 'supplier', id,
       json_object('code', code, 'name', name, 'name_en', name_en, 'contact_phone', contact_phone,
                   'created_hlc', created_hlc)
FROM suppliers WHERE EXISTS (SELECT 1 FROM node);
INSERT INTO master_changes (id, hlc, node_id, entity, entity_id, fields)
SELECT randomblob(16), created_hlc, (SELECT id FROM node), 'department', id,
       json_object('code', code, 'name', name, 'name_en', name_en, 'cost_centre', cost_centre,
                   'monthly_budget', monthly_budget, 'created_hlc', created_hlc)
FROM departments WHERE EXISTS (SELECT 1 FROM node);
INSERT INTO master_changes (id, hlc, node_id, entity, entity_id, fields)
SELECT randomblob(16), created_hlc, (SELECT id FROM node), 'location', id,
       json_object('code', code, 'name', name, 'name_en', name_en, 'kind', kind,
                   'department_id', lower(hex(department_id)), 'min_temp_c', min_temp_c, 'max_temp_c', max_temp_c,
                   'created_hlc', created_hlc)
FROM locations WHERE EXISTS (SELECT 1 FROM node);
INSERT INTO master_changes (id, hlc, node_id, entity, entity_id, fields)
SELECT randomblob(16), i.created_hlc, (SELECT id FROM node), 'item', i.id,
       json_patch(json_object('code', i.code, 'name', i.name, 'name_en', i.name_en,
                              'specification', i.specification, 'manufacturer', i.manufacturer,
                              'registration_no', i.registration_no, 'risk_class', i.risk_class,
                              'category', i.category, 'unit', i.unit, 'pack_size', i.pack_size,
                              'serialized', i.serialized, 'implantable', i.implantable, 'cold_chain', i.cold_chain,
                              'min_temp_c', i.min_temp_c, 'max_temp_c', i.max_temp_c, 'unit_price', i.unit_price,
                              'default_supplier_id', lower(hex(i.default_supplier_id)),
                              'reorder_point', i.reorder_point, 'created_hlc', i.created_hlc),
                  coalesce((SELECT json_group_object('identifier:' || identifier, scheme)
                            FROM item_identifiers WHERE item_id = i.id), '{}'))
FROM items i WHERE EXISTS (SELECT 1 FROM node);
-- hex(NULL) is '' : a missing reference is null, not an empty id.
UPDATE master_changes SET fields = json_set(fields, '$.department_id', json('null'))
WHERE entity = 'location' AND json_extract(fields, '$.department_id') = '';
UPDATE master_changes SET fields = json_set(fields, '$.default_supplier_id', json('null'))
WHERE entity = 'item' AND json_extract(fields, '$.default_supplier_id') = '';
INSERT INTO master_fields (entity, entity_id, field, value, hlc, node_id)
SELECT c.entity, c.entity_id, f.key, CASE WHEN f.type = 'null' THEN 'null' ELSE json_quote(f.value) END,
       c.hlc, c.node_id
FROM master_changes c, json_each(c.fields) f;

-- A movement is corrected at most once on one workstation (posting checks it);
-- two workstations may each correct the same document before they sync. Both
-- corrections are facts: they are kept, and listed for review
-- (Ledger::double_corrections), instead of one wedging the other's sync.
DROP INDEX movements_corrects;
CREATE INDEX movements_corrects ON movements(corrects) WHERE corrects IS NOT NULL;

-- A workstation's link to its server. One row once enrolled.
CREATE TABLE sync_state (
    singleton          INTEGER PRIMARY KEY CHECK (singleton = 1),
    server_url         TEXT    NOT NULL,
    server_node_id     BLOB    NOT NULL,
    token              TEXT    NOT NULL,
    -- The last server sequence pulled and applied (in the same transaction).
    pull_cursor        INTEGER NOT NULL DEFAULT 0,
    -- This node's change-log entries up to here are on the server.
    pushed_change_seq  INTEGER NOT NULL DEFAULT 0,
    -- This node's movements with an HLC up to here are on the server (a
    -- stocktake posting counts stamped earlier moves it back).
    pushed_hlc         INTEGER NOT NULL DEFAULT 0,
    -- Bumped whenever pushed_hlc is moved back, so a push answered after a
    -- stocktake was posted does not move it forward past the stocktake's counts.
    push_generation    INTEGER NOT NULL DEFAULT 0,
    -- A workstation that started from a server snapshot: the server sequence
    -- the snapshot was taken at (it holds no movements from before it).
    horizon            INTEGER,
    last_success_ms    INTEGER,
    last_error         TEXT
);

-- A bootstrapped workstation's balances as the snapshot gave them: the part
-- of each balance whose movements this node does not hold (balance::verify
-- folds the movements it holds on top).
CREATE TABLE balance_openings (
    key_id    INTEGER PRIMARY KEY REFERENCES balances(key_id),
    quantity  INTEGER NOT NULL
);

-- Movements from before a bootstrapped node's snapshot, stored so that a late
-- count can fold over them or a correction can name them; their quantities
-- are inside the openings, never added again.
CREATE TABLE history_movements (
    movement_id  BLOB PRIMARY KEY REFERENCES movements(id)
) WITHOUT ROWID;

-- What arrived and could not be applied: the same id with different content.
CREATE TABLE sync_conflicts (
    id            INTEGER PRIMARY KEY,
    event_kind    TEXT    NOT NULL,
    event_key     BLOB    NOT NULL,
    origin        BLOB,
    received_ms   INTEGER NOT NULL,
    stored        TEXT    NOT NULL,          -- JSON of what we have
    incoming      TEXT    NOT NULL,          -- JSON of what arrived
    UNIQUE (event_kind, event_key, incoming)
);

-- Server: every accepted event in the order it was committed.
CREATE TABLE sync_events (
    seq         INTEGER PRIMARY KEY,
    event_kind  TEXT    NOT NULL,
    event_key   BLOB    NOT NULL,
    origin      BLOB    NOT NULL,
    body        TEXT    NOT NULL,            -- JSON
    received_ms INTEGER NOT NULL,
    UNIQUE (event_kind, event_key)
);

-- Server: enrolled workstations; tokens are stored as their SHA-256.
CREATE TABLE sync_nodes (
    node_id       BLOB PRIMARY KEY,
    site_code     TEXT    NOT NULL,
    token_sha256  BLOB    NOT NULL UNIQUE,
    enrolled_ms   INTEGER NOT NULL,
    revoked_ms    INTEGER,
    last_seen_ms  INTEGER
) WITHOUT ROWID;

-- Server: one-time enrolment codes (stored as their SHA-256).
CREATE TABLE sync_enrolments (
    code_sha256  BLOB PRIMARY KEY,
    site_code    TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    used_by      BLOB,
    used_ms      INTEGER
) WITHOUT ROWID;
