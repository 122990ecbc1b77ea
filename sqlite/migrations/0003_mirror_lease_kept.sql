-- A lease kept by its holder through a save (MirrorPair.KeepLease): the
-- holder recorded everything it delivered, so a claim after the lease runs
-- out is not Reclaimed.
ALTER TABLE mirror_pairs ADD COLUMN lease_kept INTEGER NOT NULL DEFAULT 0;
