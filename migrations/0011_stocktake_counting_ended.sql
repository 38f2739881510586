-- When counting ended (finish_counting): a closed scope's uncounted keys are
-- zeroed as of this HLC, not at posting, so stock received or moved between
-- the end of counting and the posting is kept. NULL: counting ends at posting.
ALTER TABLE stocktakes ADD COLUMN counting_ended_hlc INTEGER;
