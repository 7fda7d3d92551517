"""session stage (grows with later work)."""
