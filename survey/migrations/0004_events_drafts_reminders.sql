-- Migration 0004: updates as dated events, drafts, reminders.
-- Released with questionnaire version 1 (the questions are unchanged): frozen, never edited.
-- A respondent completes the story later: each update is one dated row of response_events
-- (the original answers are never overwritten; no free text). A half-filled form is kept
-- server-side as a draft (answers as JSON, as shown on screen) for 30 days. A respondent who
-- leaves an e-mail may ask to be reminded (contacts.remind); each reminder sent is one row of
-- reminders, with the SHA-256 of the random token its link carries (never the deletion code).

CREATE TABLE response_events (
  event_id UUID PRIMARY KEY,
  response_id UUID NOT NULL,
  recorded_at TIMESTAMPTZ NOT NULL,
  kind VARCHAR NOT NULL,
  event_on DATE NOT NULL,
  amount DOUBLE
);

CREATE INDEX response_events_response ON response_events (response_id);

CREATE TABLE drafts (
  draft_hash VARCHAR PRIMARY KEY,
  resume_hash VARCHAR,
  submission_key VARCHAR NOT NULL,
  answers VARCHAR NOT NULL,
  step INTEGER NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX drafts_resume_hash ON drafts (resume_hash);

CREATE INDEX drafts_submission_key ON drafts (submission_key);

ALTER TABLE contacts ADD COLUMN remind BOOLEAN DEFAULT false;

CREATE TABLE reminders (
  response_id UUID NOT NULL,
  due_days INTEGER NOT NULL,
  sent_at TIMESTAMPTZ NOT NULL,
  token_hash VARCHAR NOT NULL,
  PRIMARY KEY (response_id, due_days)
);

CREATE UNIQUE INDEX reminders_token_hash ON reminders (token_hash);
