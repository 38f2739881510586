-- Lineage: tells a workstation whose ledger went back (restored from a backup,
-- or a copy of its database started on another computer) from one in line.
--
-- Each push attempt carries the workstation's current lineage value and a next
-- one chosen at random for this attempt (stored here before sending), with the
-- next values of earlier attempts whose answers never came (one of them may have
-- been stored). The server keeps the newest value per node and every value it
-- has seen: a workstation presenting only older ones is behind — it fetches back
-- its own events the server holds and adopts the server's value; one presenting
-- only values the server never saw means the server's database went back.
--
-- NULL on a workstation: the link is new (or from before this migration); its
-- first sync fetches back whatever the server holds from it, then starts a lineage.
ALTER TABLE sync_state ADD COLUMN lineage BLOB;
ALTER TABLE sync_state ADD COLUMN lineage_next BLOB;
-- Next values of earlier unanswered attempts, 16 bytes each, newest last.
ALTER TABLE sync_state ADD COLUMN lineage_tried BLOB;

-- Server: the newest lineage value of each node (NULL until its first push).
ALTER TABLE sync_nodes ADD COLUMN lineage BLOB;

-- Server: every lineage value a node has presented or moved to.
CREATE TABLE sync_lineages (
    node_id  BLOB NOT NULL,
    lineage  BLOB NOT NULL,
    PRIMARY KEY (node_id, lineage)
) WITHOUT ROWID;

-- A workstation restored from a copy may give a document a number one of its
-- documents fetched back from the server was given first (before the copy was
-- put back). The one fetched back keeps it; the one posted here since, never
-- sent, is renumbered (and the change listed for review). So a posted document's
-- number may change on the node that posted it — nothing else about it may.
DROP TRIGGER posted_documents_are_frozen;
CREATE TRIGGER posted_documents_are_frozen BEFORE UPDATE ON documents
WHEN OLD.status <> 'draft' AND NOT (
    NEW.number IS NOT OLD.number AND NEW.number IS NOT NULL AND OLD.number IS NOT NULL
    AND OLD.node_id = (SELECT id FROM node)
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
