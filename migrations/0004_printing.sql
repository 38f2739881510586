-- This workstation's printers and its print queue. Local configuration,
-- never synchronised: another workstation has other printers. A job keeps its
-- rendered bytes until it is sent, so a failed job can be retried or sent to
-- another printer after a restart; sent jobs keep only their record.
CREATE TABLE printers (
    name         TEXT PRIMARY KEY,
    uri          TEXT NOT NULL,            -- tcp://host:9100, cups://QUEUE, serial:///dev/ttyUSB0?baud=9600
    profile      TEXT NOT NULL,            -- the printer profile as JSON (language, label size, dpi, paper …)
    created_hlc  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE print_jobs (
    id            BLOB PRIMARY KEY,        -- UUIDv7: time-ordered
    printer       TEXT NOT NULL REFERENCES printers(name),
    kind          TEXT NOT NULL CHECK (kind = 'label' OR kind = 'document'),
    description   TEXT NOT NULL,
    payload       BLOB,                    -- NULL once sent or cancelled
    bytes         INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status = 'queued' OR status = 'sent' OR status = 'failed' OR
                                       status = 'cancelled'),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_by    BLOB NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL,
    sent_at_ms    INTEGER
) WITHOUT ROWID;
CREATE INDEX print_jobs_open ON print_jobs(status) WHERE status = 'queued' OR status = 'failed';
