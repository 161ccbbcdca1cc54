-- Migration 0003: the collection start of imported responses.
-- PostgreSQL's text of 0003_collected_from.sql (the same column, at the end of the table).
-- Frozen with it: a change is a new pair of files.

ALTER TABLE responses ADD COLUMN collected_from DATE;
