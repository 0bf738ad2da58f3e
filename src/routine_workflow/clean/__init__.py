"""Cache cleaning: the pattern language, the scan and plan, fd-verified removal, git's files."""
