-- Each patient's last STIR WB-MRI as a run saw it: what a resolved worklist entry shows as the scan that resolved
-- it, and how the auditor's "who was due on that day" says when each patient was then scanned.
alter table surveillance_results add column last_study date;
