-- The Tasks a run is about to publish for entries new since the last succeeded run, recorded before they are sent
-- (not with the batch's results, which a run that fails does not keep): the next succeeded run completes those
-- whose reason has gone by then (src/surveillance/runner.ts resolveOrphans), which would otherwise stay open in
-- the EHR with no worklist entry behind them; once it has, the rows of the runs up to it are deleted. `key` is the
-- entry's work family ({patient}:{Task rule}:{due date}), `entry` the worklist entry as the run made it.
create table surveillance_published_tasks (
  run_id text not null references surveillance_runs (run_id),
  key    text not null,
  entry  jsonb not null,
  primary key (run_id, key)
);
