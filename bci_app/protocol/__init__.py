"""protocol stage (grows with later work)."""
