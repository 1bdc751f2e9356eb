-- Bulk Data staging by batch (issue 14): a run's batches are cut while the export is read (each patient's
-- batch is a hash of their id; see src/surveillance/bulkSource.ts), and each batch's NDJSON lines are staged
-- together as a few large rows rather than one row per resource. The database stores and returns text: per
-- row it does little work, and a batch reads its rows by one index range. Lines are kept as received, each
-- prefixed with its patient and medicationReference (src/surveillance/stagedRecords.ts).
-- Stored uncompressed (storage external): the rows are read once, and compressing megabytes of JSON on insert
-- cost more than it saved. Unlogged, with the completion marker (batch_no -1), as in migration 004.
-- What was staged before this migration was transient: it is dropped; a run caught mid-way fails with the reason.

drop table if exists surveillance_staged;

create unlogged table surveillance_staged (
  run_id   text not null,
  batch_no integer not null,
  lines    text not null
);
alter table surveillance_staged alter column lines set storage external;
create index surveillance_staged_batch on surveillance_staged (run_id, batch_no);
