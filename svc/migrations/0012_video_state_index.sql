-- The scheduler's housekeeping lists abandoned `pending` videos, oldest first, every 10 minutes
-- (scheduler/src/store/videos.rs, `abandoned`). Without an index on `state` that read the whole
-- table through and sorted it: 29-31 ms a run at 100,000 videos on the build machine, and every
-- page of the table pulled through the buffer pool, evicting what the site's reads keep warm.
-- With it the query reads the few pending rows in order: 0.6 ms (EXPLAIN: range on this index,
-- 99 rows, no filesort).
CREATE INDEX ix_video_state_time ON video_info (state, create_time);
