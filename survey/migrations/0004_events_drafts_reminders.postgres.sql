-- Migration 0004: updates as dated events, drafts, reminders.
-- PostgreSQL's text of 0004_events_drafts_reminders.sql (the same tables, columns, order and
-- indexes; DOUBLE is spelled DOUBLE PRECISION). Frozen with it: a change is a new pair of files.

CREATE TABLE response_events (
  event_id UUID PRIMARY KEY,
  response_id UUID NOT NULL,
  recorded_at TIMESTAMPTZ NOT NULL,
  kind VARCHAR NOT NULL,
  event_on DATE NOT NULL,
  amount DOUBLE PRECISION
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
