"""gui stage (grows with later work)."""
