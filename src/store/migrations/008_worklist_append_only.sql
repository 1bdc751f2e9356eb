-- A run's worklist, once written, is what the run produced (issue 14): the audit trail's record of the run holds
-- its digest (src/surveillance/runStore.ts worklistDigest) rather than a second copy of 70,000 entries, so the
-- rows themselves become append-only, as the audit trail's own tables are (migration 001). Nothing updates or
-- deletes them: a batch retried inserts with `on conflict do nothing`.
create trigger worklist_entries_append_only before update or delete on worklist_entries
  for each row execute function osteowatch_append_only();
