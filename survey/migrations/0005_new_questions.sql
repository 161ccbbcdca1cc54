-- Migration 0005: questions of questionnaire version 2.
-- Released with questionnaire version 2: frozen, never edited (a change is a new file).
-- What people lived, said more exactly: the services of the subscription and the reasons a
-- trip was wasted (multiple choices, one yes/no column per option, NULL when nothing was
-- ticked), the date the status of an ongoing case was last known, whether the whole
-- neighbourhood was cut, the dates of the false "resolved" messages, how many times the
-- loaner was cut off (loaner_cut_before_resolution is derived from it) and the ease of the
-- steps (1 very hard - 7 very easy; effort is derived from it as 8 - ease).
-- Only columns appended to responses: it applies after any migration that adds tables.
-- Rows stored before it read NULL in every new column (the question was not asked).

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
