-- Migration 0003: the collection start of imported responses.
-- Released with questionnaire version 1 (the questions are unchanged): frozen, never edited.
-- An imported file comes from a survey that opened on its own date: an incident that began
-- before it entered that survey late (delayed entry), as one that began before Client Roi's
-- launch enters ours. `clientroi import --collected-from DATE` records it; NULL: the launch.

ALTER TABLE responses ADD COLUMN collected_from DATE;
