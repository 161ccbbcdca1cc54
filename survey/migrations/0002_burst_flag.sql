-- Migration 0002: burst flag on responses.
-- Released with questionnaire version 1 (the questions are unchanged): frozen, never edited.
-- A response arriving in a burst of its company's submissions (survey.validation.BurstDetector)
-- is flagged like the other flags: kept, out of the statistics by default, never published.
-- Rows stored before this migration were never checked for bursts: they read false.
-- (DuckDB cannot add a NOT NULL column to a table with indexes; the store always writes it.)

ALTER TABLE responses ADD COLUMN flag_burst BOOLEAN DEFAULT false;
