-- A worklist entry is told apart by its due date too (issue 14): a resolved entry whose Task could not be
-- completed is carried to the next runs until it is (src/surveillance/runner.ts resolveGone), and a later entry of
-- the same rule resolved beside it (a follow-up due on another date) is another entry with another Task (the
-- Task's identifier is {patient}:{rule}:{due date}). Under the old key one of the two was dropped. Retried
-- batches and a resumed finishing step insert the same rows (same due dates), still kept once.
alter table worklist_entries drop constraint worklist_entries_pkey;
create unique index worklist_entries_key
  on worklist_entries (run_id, patient_id, rule, change, coalesce(due_date, 'infinity'::date));
