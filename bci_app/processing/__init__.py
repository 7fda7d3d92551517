"""processing stage (grows with later work)."""
