"""What a spawned worker process imports in place of an unguarded script (see
`main_guard.keep_main_out_of_spawned_workers`): nothing."""
