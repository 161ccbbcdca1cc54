-- Migration 0005: questions of questionnaire version 2.
-- PostgreSQL's text of 0005_new_questions.sql (the same columns, at the end of the table, in
-- the same order). Frozen with it: a change is a new pair of files.

ALTER TABLE responses ADD COLUMN services_internet BOOLEAN;
ALTER TABLE responses ADD COLUMN services_landline BOOLEAN;
ALTER TABLE responses ADD COLUMN services_tv BOOLEAN;
ALTER TABLE responses ADD COLUMN services_mobile BOOLEAN;
ALTER TABLE responses ADD COLUMN services_other BOOLEAN;
ALTER TABLE responses ADD COLUMN status_known_on DATE;
ALTER TABLE responses ADD COLUMN neighbourhood_cut BOOLEAN;
ALTER TABLE responses ADD COLUMN false_resolved_first_on DATE;
ALTER TABLE responses ADD COLUMN false_resolved_last_on DATE;
ALTER TABLE responses ADD COLUMN wasted_reason_no_stock BOOLEAN;
ALTER TABLE responses ADD COLUMN wasted_reason_no_reservation BOOLEAN;
ALTER TABLE responses ADD COLUMN wasted_reason_closed BOOLEAN;
ALTER TABLE responses ADD COLUMN wasted_reason_other BOOLEAN;
ALTER TABLE responses ADD COLUMN loaner_cut_count INTEGER;
ALTER TABLE responses ADD COLUMN ease INTEGER;
