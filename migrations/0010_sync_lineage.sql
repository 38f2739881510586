-- Lineage: tells a workstation whose ledger went back (restored from a backup,
-- or a copy of its database started on another computer) from one in line.
--
-- Each push attempt carries the workstation's current lineage value and a next
-- one chosen at random for this attempt (stored here before sending), with the
-- next values of earlier attempts whose answers never came (one of them may have
-- been stored). The server keeps the newest value per node and every value it
-- has seen: a workstation presenting only older ones is behind — it recovers,
-- pulling again from its cursor with its own events included, and takes the
-- server's value; one presenting only values the server never saw means the
-- server's database went back.
--
-- NULL on a workstation: the link is new (or from before this migration); its
-- first sync recovers likewise, then takes the value the server gives it.
ALTER TABLE sync_state ADD COLUMN lineage BLOB;
ALTER TABLE sync_state ADD COLUMN lineage_next BLOB;
-- Next values of earlier unanswered attempts, 16 bytes each, newest last.
ALTER TABLE sync_state ADD COLUMN lineage_tried BLOB;

-- The server's key of its event at the pull cursor (`kind:hex`): presented with
-- the cursor, so a server whose log went back and gave those sequence numbers to
-- other events is caught even once its log is long again.
ALTER TABLE sync_state ADD COLUMN pull_cursor_key TEXT;

-- After the server's database went back with no newer copy (`sync --resend`):
-- 1 = send every event of this node again (the server accepts it although it
-- never saw the node's lineage), then pull the whole history again; 2 = the same
-- for a workstation started from a snapshot, which then must start afresh from a
-- new snapshot (its balances hold a past the server no longer numbers alike).
ALTER TABLE sync_state ADD COLUMN resending INTEGER NOT NULL DEFAULT 0;

-- Server: the newest lineage value of each node (NULL until its first push or recovery).
ALTER TABLE sync_nodes ADD COLUMN lineage BLOB;

-- Server: every lineage value a node has presented or moved to.
CREATE TABLE sync_lineages (
    node_id  BLOB NOT NULL,
    lineage  BLOB NOT NULL,
    PRIMARY KEY (node_id, lineage)
) WITHOUT ROWID;

-- A workstation restored from a copy may give a document a number one of its
-- documents that came back from the server was given first (before the copy was
-- put back). The one that came back keeps it; the one posted here since, never
-- sent, is renumbered (and the change listed for review). So the number of a
-- posted document may change on a workstation, while it was posted there and
-- never sent (posted above the push mark) — nothing else about it may.
DROP TRIGGER posted_documents_are_frozen;
CREATE TRIGGER posted_documents_are_frozen BEFORE UPDATE ON documents
WHEN OLD.status <> 'draft' AND NOT (
    NEW.number IS NOT OLD.number AND NEW.number IS NOT NULL AND OLD.number IS NOT NULL
    AND OLD.node_id = (SELECT id FROM node)
    AND coalesce(OLD.posted_hlc > (SELECT pushed_hlc FROM sync_state), 0)
    AND NEW.id = OLD.id AND NEW.kind = OLD.kind AND NEW.status = OLD.status AND NEW.node_id = OLD.node_id
    AND NEW.created_by = OLD.created_by AND NEW.created_at_ms = OLD.created_at_ms
    AND NEW.posted_by IS OLD.posted_by AND NEW.posted_hlc IS OLD.posted_hlc AND NEW.posted_at_ms IS OLD.posted_at_ms
    AND NEW.location_id IS OLD.location_id AND NEW.to_location_id IS OLD.to_location_id
    AND NEW.department_id IS OLD.department_id AND NEW.supplier_id IS OLD.supplier_id
    AND NEW.override_by IS OLD.override_by AND NEW.reason IS OLD.reason
    AND NEW.corrects_document IS OLD.corrects_document AND NEW.note IS OLD.note)
BEGIN
    SELECT RAISE(ABORT, 'a posted or cancelled document cannot change');
END;
