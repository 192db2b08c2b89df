-- The owner of a hold, so that Limiter.Unhold deletes a hold only for the
-- request that took it. Counters have no owner (NULL), which equals no
-- owner, so Unhold never deletes one; neither do the holds taken before
-- this migration, which just expire.
ALTER TABLE limits ADD COLUMN owner text;
