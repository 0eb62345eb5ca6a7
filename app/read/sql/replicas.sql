-- name: replayed_position
-- The newest change log position this server shows (on a replica: replayed so far).
SELECT position FROM log_head

-- name: replica_lag
-- On a standby: its log position, the age of the newest replayed commit when WAL is waiting to
-- be replayed (0 when replay has caught up with what was received), and the WAL received but not
-- yet replayed.
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT position FROM log_head) AS position,
       CASE WHEN NOT pg_is_in_recovery()
                 OR pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
            THEN 0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
       END AS lag_seconds,
       coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)
           AS backlog_bytes,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused
