-- Migration 0002: burst flag on responses.
-- PostgreSQL's text of 0002_burst_flag.sql (the same column, at the end of the table, with the
-- same default). Frozen with it: a change is a new pair of files.
-- Rows stored before this migration were never checked for bursts: they read false.

ALTER TABLE responses ADD COLUMN flag_burst BOOLEAN DEFAULT false;
