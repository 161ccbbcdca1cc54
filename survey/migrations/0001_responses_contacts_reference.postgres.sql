-- Migration 0001: responses, contacts, reference tables.
-- PostgreSQL's text of 0001_responses_contacts_reference.sql (same tables, columns, order and
-- indexes; DOUBLE is spelled DOUBLE PRECISION). Frozen with it: a change is a new pair of files.

CREATE TABLE responses (
  response_id UUID PRIMARY KEY,
  submitted_at TIMESTAMPTZ,
  submitted_on DATE,
  questionnaire_version INTEGER,
  locale VARCHAR,
  source VARCHAR,
  fill_seconds DOUBLE PRECISION,
  flag_honeypot BOOLEAN,
  flag_too_fast BOOLEAN,
  flag_duplicate BOOLEAN,
  submission_key VARCHAR,
  fingerprint VARCHAR,
  deletion_hash VARCHAR,
  company VARCHAR,
  company_other VARCHAR,
  service VARCHAR,
  department VARCHAR,
  household VARCHAR,
  school_children BOOLEAN,
  teleworks BOOLEAN,
  problem VARCHAR,
  started_on DATE,
  status VARCHAR,
  ended_on DATE,
  blamed_third_party BOOLEAN,
  false_resolved_count INTEGER,
  contacts_phone INTEGER,
  contacts_chat INTEGER,
  contacts_email INTEGER,
  contacts_shop INTEGER,
  contacts_social INTEGER,
  contacts_letter INTEGER,
  unanswered_calls INTEGER,
  callbacks_promised INTEGER,
  callbacks_received INTEGER,
  hours_spent DOUBLE PRECISION,
  technician_visits INTEGER,
  technician_visits_useless INTEGER,
  wasted_trips INTEGER,
  wasted_km DOUBLE PRECISION,
  escalation_mediator BOOLEAN,
  escalation_regulator BOOLEAN,
  escalation_signalconso BOOLEAN,
  escalation_association BOOLEAN,
  escalation_court BOOLEAN,
  loaner_offered BOOLEAN,
  loaner_obtained BOOLEAN,
  loaner_days_to_obtain INTEGER,
  loaner_cut_before_resolution BOOLEAN,
  refund_requested BOOLEAN,
  refund_outcome VARCHAR,
  refund_amount_requested DOUBLE PRECISION,
  refund_amount_obtained DOUBLE PRECISION,
  refund_requested_on DATE,
  refund_received_on DATE,
  unrequested_gesture BOOLEAN,
  csat INTEGER,
  effort INTEGER,
  nps INTEGER,
  switched VARCHAR,
  narrative VARCHAR,
  consent_research BOOLEAN,
  consent_quote BOOLEAN
);

CREATE UNIQUE INDEX responses_submission_key ON responses (submission_key);

CREATE UNIQUE INDEX responses_deletion_hash ON responses (deletion_hash);

CREATE INDEX responses_fingerprint ON responses (fingerprint);

CREATE TABLE contacts (
  response_id UUID PRIMARY KEY,
  contact_email VARCHAR NOT NULL,
  stored_on DATE NOT NULL
);

CREATE TABLE companies (
  id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, "group" VARCHAR,
  sector VARCHAR NOT NULL, origin VARCHAR NOT NULL, aliases VARCHAR
);

CREATE TABLE departments (
  code VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, region VARCHAR NOT NULL
);
