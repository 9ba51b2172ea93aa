-- 0007: room for HOT updates in vehicle_state. Every vehicle's snapshot row is rewritten every few seconds; on full
-- pages each update put the new version on another page and a new entry into the primary key (measured at 23,000
-- vehicles: 6% of the updates were HOT, the table grew to 144 MB for 23,000 rows, and the upserts cost PostgreSQL as
-- much CPU as the positions COPY). With half of each page free the new version stays on its page, the key index is
-- not touched, and page pruning reclaims the old version in place. Pages written from now on keep the space.
ALTER TABLE vehicle_state SET (fillfactor = 50);
