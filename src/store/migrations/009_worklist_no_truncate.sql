-- As the audit tables (migration 001): TRUNCATE fires no row trigger, so the worklist's append-only guard of
-- migration 008 gets its statement-level twin.
create trigger worklist_entries_no_truncate before truncate on worklist_entries
  for each statement execute function osteowatch_append_only();
