"""acquisition stage (grows with later work)."""
