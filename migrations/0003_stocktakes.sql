-- Stocktakes (盘点单): a document numbered at start (PD-SITE-000001) whose
-- counting happens before anything is posted. Counters append observations;
-- nothing here is updated except the stocktake's own status. Posting writes
-- `count` movements stamped with each key's last scan, and freezes the
-- variance table in stocktake_results for audit.
CREATE TABLE stocktakes (
    document_id         BLOB PRIMARY KEY REFERENCES documents(id),
    status              TEXT NOT NULL CHECK (status = 'counting' OR status = 'review' OR status = 'posted' OR
                                             status = 'cancelled'),
    blind               INTEGER NOT NULL CHECK (blind = 0 OR blind = 1),
    started_hlc         INTEGER NOT NULL,
    -- A difference above either tolerance asks for a recount (NULL: no limit of that kind).
    tolerance_quantity  INTEGER CHECK (tolerance_quantity IS NULL OR tolerance_quantity >= 0),
    tolerance_value     TEXT,             -- decimal, CNY
    categories          TEXT NOT NULL DEFAULT '',   -- item categories in scope, '\n'-separated; '' = all
    all_locations       INTEGER NOT NULL CHECK (all_locations = 0 OR all_locations = 1),
    closed_scope        INTEGER NOT NULL DEFAULT 0 CHECK (closed_scope = 0 OR closed_scope = 1)
) WITHOUT ROWID;

-- The locations a stocktake covers (none listed when all_locations = 1).
CREATE TABLE stocktake_locations (
    document_id  BLOB NOT NULL REFERENCES stocktakes(document_id),
    location_id  BLOB NOT NULL REFERENCES locations(id),
    PRIMARY KEY (document_id, location_id)
) WITHOUT ROWID;

-- One observation per scan, typed quantity, import line or undo. A later
-- observation may void an earlier one (undo; a typed quantity replacing the
-- scan's one). Append-only, like movements, so that lines from several
-- devices merge by id.
CREATE TABLE stocktake_observations (
    id                 BLOB PRIMARY KEY,      -- UUIDv7
    document_id        BLOB NOT NULL REFERENCES stocktakes(document_id),
    item_id            BLOB NOT NULL REFERENCES items(id),
    lot                TEXT NOT NULL DEFAULT '',
    serial             TEXT NOT NULL DEFAULT '',
    location_id        BLOB NOT NULL REFERENCES locations(id),
    expires_on         TEXT,
    quantity           INTEGER NOT NULL CHECK (quantity >= 0),
    round              INTEGER NOT NULL CHECK (round >= 0),   -- 0, then 1, 2 … for recounts
    counter_id         BLOB NOT NULL REFERENCES users(id),
    node_id            BLOB NOT NULL,
    hlc                INTEGER NOT NULL,      -- when the shelf was seen: the count takes effect here
    recorded_at_ms     INTEGER NOT NULL,
    source             TEXT NOT NULL CHECK (source = 'scan' OR source = 'typed' OR source = 'import' OR
                                            source = 'undo'),
    barcode            TEXT NOT NULL DEFAULT '',
    voids              BLOB REFERENCES stocktake_observations(id),
    expected_quantity  INTEGER NOT NULL       -- the key's balance as this station knew it then
) WITHOUT ROWID;
CREATE INDEX stocktake_observations_key ON stocktake_observations(document_id, item_id, lot, serial, location_id);
CREATE INDEX stocktake_observations_voids ON stocktake_observations(voids) WHERE voids IS NOT NULL;
-- A counter's own observations (undo, last scans), and timestamps (opening recovers the HLC from them).
CREATE INDEX stocktake_observations_counter ON stocktake_observations(document_id, counter_id, recorded_at_ms);
CREATE INDEX stocktake_observations_hlc ON stocktake_observations(hlc, node_id);

-- A manager's request to count keys again: observations of earlier rounds no longer count.
CREATE TABLE stocktake_recounts (
    document_id   BLOB NOT NULL REFERENCES stocktakes(document_id),
    item_id       BLOB NOT NULL REFERENCES items(id),
    lot           TEXT NOT NULL,
    serial        TEXT NOT NULL,
    location_id   BLOB NOT NULL REFERENCES locations(id),
    round         INTEGER NOT NULL CHECK (round >= 1),
    requested_by  BLOB NOT NULL REFERENCES users(id),
    hlc           INTEGER NOT NULL,
    PRIMARY KEY (document_id, item_id, lot, serial, location_id, round)
) WITHOUT ROWID;

-- The variance table as posted, kept for audit.
CREATE TABLE stocktake_results (
    document_id   BLOB NOT NULL REFERENCES stocktakes(document_id),
    line_no       INTEGER NOT NULL,
    item_id       BLOB NOT NULL REFERENCES items(id),
    lot           TEXT NOT NULL,
    serial        TEXT NOT NULL,
    location_id   BLOB NOT NULL REFERENCES locations(id),
    expected      INTEGER NOT NULL,
    counted       INTEGER NOT NULL,
    unit_cost     TEXT,
    count_hlc     INTEGER NOT NULL,
    flags         TEXT NOT NULL DEFAULT '',    -- comma-separated: uncounted, over_tolerance, ambiguous, recounted
    movement_id   BLOB REFERENCES movements(id),
    PRIMARY KEY (document_id, line_no)
) WITHOUT ROWID;

CREATE TRIGGER stocktake_observations_are_immutable_update BEFORE UPDATE ON stocktake_observations
BEGIN
    SELECT RAISE(ABORT, 'stocktake observations are immutable');
END;
CREATE TRIGGER stocktake_observations_are_immutable_delete BEFORE DELETE ON stocktake_observations
BEGIN
    SELECT RAISE(ABORT, 'stocktake observations are immutable');
END;
CREATE TRIGGER stocktake_results_are_immutable_update BEFORE UPDATE ON stocktake_results
BEGIN
    SELECT RAISE(ABORT, 'posted stocktake results are immutable');
END;
CREATE TRIGGER stocktake_results_are_immutable_delete BEFORE DELETE ON stocktake_results
BEGIN
    SELECT RAISE(ABORT, 'posted stocktake results are immutable');
END;
