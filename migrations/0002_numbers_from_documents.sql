-- Document numbers are counted from the documents themselves (the greatest
-- number of a node's series in the unique number index), so posting no longer
-- rewrites a counter row: one page fewer in every posting transaction.
-- Numbers already given stay as they are; the next one continues each series.
DROP TABLE document_sequences;
