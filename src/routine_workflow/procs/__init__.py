"""Processes we start: running commands in their own group, and stopping what a dead run left."""
