-- The worklist's pages in the order the API and the dashboard read them (src/surveillance/runStore.ts worklist):
-- urgent first (an overdue follow-up, osteonecrosis found: src/screening/urgency.ts), then due, then resolved; by due
-- date, a missing one last; then patient, rule, change. Without it every page sorted all of a run's entries
-- (~100 ms a page at 70,000 entries); with it a page reads the run's entries in page order from where the last
-- one ended (filters on the change or a patient prefix skip the entries they leave out). The urgency expression is
-- the query's, word for word (tests/surveillance/worklistPaging.test.ts checks that the index serves the query).
create index worklist_entries_urgency_page on worklist_entries (
  run_id,
  (case when change = 'resolved' then 2 when rule in ('follow-up-overdue', 'findings') then 0 else 1 end),
  (coalesce(due_date, '9999-12-31'::date)),
  patient_id,
  rule,
  change
);
