"""online stage (grows with later work)."""
