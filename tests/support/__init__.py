"""What every test tier (and the bench) shares: AWS events built from events/, a Lambda context, bounded waits,
free ports and cursors. Plain Python: importing it starts nothing and reaches no network."""
