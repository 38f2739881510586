-- The cold chain: cold units' rules, their sensors, readings, excursions and
-- the stock each excursion quarantined. Readings and sensors are this
-- workstation's (they come from its serial ports or a data logger's file);
-- excursions and their quarantine movements are ledger facts.

-- A cold location's rules (its range is locations.min_temp_c / max_temp_c).
CREATE TABLE cold_units (
    location_id           BLOB PRIMARY KEY REFERENCES locations(id),
    excursion_minutes     INTEGER NOT NULL CHECK (excursion_minutes BETWEEN 1 AND 1440),
    -- No reading for this long is an excursion too (the sensor or its cable failed).
    missing_minutes       INTEGER NOT NULL CHECK (missing_minutes BETWEEN 1 AND 1440),
    -- Issuing a cold-chain item needs an in-range reading no older than this.
    gate_minutes          INTEGER NOT NULL CHECK (gate_minutes BETWEEN 1 AND 1440),
    updated_hlc           INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sensors (
    id           BLOB PRIMARY KEY,
    location_id  BLOB NOT NULL REFERENCES locations(id),
    port         TEXT NOT NULL,
    protocol     TEXT NOT NULL CHECK (protocol = 'modbus-rtu' OR protocol = 'ascii'),
    slave        INTEGER NOT NULL DEFAULT 1 CHECK (slave BETWEEN 0 AND 247),
    model        TEXT NOT NULL DEFAULT 'xy-md02',
    baud         INTEGER NOT NULL DEFAULT 9600,
    pattern      TEXT NOT NULL DEFAULT '',
    created_hlc  INTEGER NOT NULL
) WITHOUT ROWID;

-- Readings, per cold unit, source, sensor (a unit may have several probes) and
-- time. Old ones are thinned to one per hour (see coldchain.rs).
CREATE TABLE temperature_readings (
    location_id    BLOB NOT NULL REFERENCES locations(id),
    source         TEXT NOT NULL CHECK (source = 'sensor' OR source = 'logger' OR source = 'manual'),
    sensor         TEXT NOT NULL DEFAULT '',   -- port#slave, a logger's name, or '' (manual)
    at_ms          INTEGER NOT NULL,
    temperature_c  REAL NOT NULL,
    humidity_pct   REAL,
    recorded_by    BLOB REFERENCES users(id),  -- manual readings: who measured
    PRIMARY KEY (location_id, source, sensor, at_ms)
) WITHOUT ROWID;
CREATE INDEX temperature_readings_time ON temperature_readings(location_id, at_ms);

CREATE TABLE excursions (
    id                 BLOB PRIMARY KEY,
    location_id        BLOB NOT NULL REFERENCES locations(id),
    kind               TEXT NOT NULL CHECK (kind = 'out_of_range' OR kind = 'no_reading'),
    started_at_ms      INTEGER NOT NULL,
    detected_at_ms     INTEGER NOT NULL,
    worst_c            REAL,
    status             TEXT NOT NULL CHECK (status = 'open' OR status = 'released' OR status = 'scrapped'),
    resolved_by        BLOB REFERENCES users(id),
    resolved_at_ms     INTEGER,
    resolution_reason  TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX excursions_one_open ON excursions(location_id) WHERE status = 'open';

-- Which movements an excursion wrote (its quarantine, then its release or scrap).
CREATE TABLE excursion_movements (
    excursion_id  BLOB NOT NULL REFERENCES excursions(id),
    movement_id   BLOB NOT NULL REFERENCES movements(id),
    PRIMARY KEY (excursion_id, movement_id)
) WITHOUT ROWID;

-- An issue of a cold-chain item made on a clerk's manual reading (no recent sensor reading).
CREATE TABLE temperature_confirmations (
    document_id    BLOB PRIMARY KEY REFERENCES documents(id),
    location_id    BLOB NOT NULL REFERENCES locations(id),
    temperature_c  REAL NOT NULL,
    confirmed_by   BLOB NOT NULL REFERENCES users(id),
    at_ms          INTEGER NOT NULL
) WITHOUT ROWID;
