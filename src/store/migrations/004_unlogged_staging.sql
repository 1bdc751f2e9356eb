-- Bulk Data staging, rebuilt for speed (issue 14): each resource is kept as the NDJSON line it arrived as (text,
-- never parsed by the database: the evaluating instance parses it anyway), in UNLOGGED tables (no WAL: a
-- staged export is a cache of what the FHIR server still holds). PostgreSQL empties unlogged tables after a
-- crash of its own; each load ends with a marker row (patient_id '') that every batch reads with its patients,
-- so that a batch never mistakes a lost staging for patients without records (the run fails with the reason).
-- What was staged before this migration was transient: it is dropped, and a run caught mid-way fails the same way.

drop table if exists surveillance_staged;
drop table if exists surveillance_staged_medications;

create unlogged table surveillance_staged (
  run_id        text not null,
  patient_id    text not null,
  resource_type text not null,
  resource      text not null,
  -- The record's medicationReference (Medication/id), so that a batch fetches its Medications without parsing.
  medication    text
);
create index surveillance_staged_patient on surveillance_staged (run_id, patient_id);

create unlogged table surveillance_staged_medications (
  run_id   text not null,
  ref      text not null,
  resource text not null,
  primary key (run_id, ref)
);
