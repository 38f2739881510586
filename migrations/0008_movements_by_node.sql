-- A node's own movements by HLC: the outbox reads "mine after what the server
-- has" on every sync. Through movements_hlc that walked every movement pulled
-- from other nodes since (the server, whose own movements are few, walked all
-- of them on every request); this index goes straight to this node's tail.
CREATE INDEX movements_node_hlc ON movements(node_id, hlc);
