-- What each serial port of this workstation is for: a barcode scanner (with
-- its framing) or a thermometer bus (whose sensors are in `sensors`). A port
-- is recognised by the USB identity of what is plugged into it
-- (usb:vendor:product:serial), the path it was last seen at kept as the
-- fallback for devices without a serial number and for plain serial ports.
-- Local configuration of this workstation's hardware: never synchronised.
CREATE TABLE port_roles (
    identity       TEXT PRIMARY KEY,
    path           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role = 'scanner' OR role = 'thermometer'),
    baud           INTEGER NOT NULL CHECK (baud BETWEEN 1200 AND 230400),
    -- What ends a scan: cr, lf, crlf (either) or tab.
    terminator     TEXT NOT NULL DEFAULT 'cr'
                   CHECK (terminator = 'cr' OR terminator = 'lf' OR terminator = 'crlf' OR terminator = 'tab'),
    -- Text the scanner puts before every scan, removed.
    prefix         TEXT NOT NULL DEFAULT '',
    -- What the device calls itself (USB product name), for people.
    description    TEXT NOT NULL DEFAULT '',
    updated_at_ms  INTEGER NOT NULL
) WITHOUT ROWID;
