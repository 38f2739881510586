-- The certificate authority a workstation trusts for its server (a hospital's
-- own CA or a self-signed server certificate), as PEM text given when it
-- enrolled with --ca; NULL: the operating system's trusted roots. The content
-- is kept, not a path: the file may move, and the desktop app's sync thread
-- reads the same link.
ALTER TABLE sync_state ADD COLUMN server_ca_pem TEXT;
