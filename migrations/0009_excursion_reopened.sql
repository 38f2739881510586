-- An excursion resolved on this node is reopened when a release made elsewhere,
-- without knowing of it, let out units it held (quarantine wins: the units go
-- back into quarantine and its manager judges them). When that happened last.
ALTER TABLE excursions ADD COLUMN reopened_at_ms INTEGER;
