-- One surveillance run at a time (issue 14): each run compares its worklist with the last succeeded one (new,
-- still due, resolved), fixed when it loads; two runs overlapping would both compare with the same earlier run
-- and report the same changes twice. A unique index on a constant over the active runs lets the database refuse
-- the second, whatever the number of instances racing to create it (src/surveillance/runStore.ts createRun).
-- Runs left active side by side by an earlier version keep the newest; the others end as failed, with the reason.
update surveillance_runs
   set status = 'failed',
       error = 'ended when runs became one at a time (migration 007): a newer run was in progress'
 where status in ('queued', 'loading', 'evaluating', 'finishing')
   and seq < (select max(seq) from surveillance_runs where status in ('queued', 'loading', 'evaluating', 'finishing'));

create unique index surveillance_runs_one_active on surveillance_runs ((true))
  where status in ('queued', 'loading', 'evaluating', 'finishing');
