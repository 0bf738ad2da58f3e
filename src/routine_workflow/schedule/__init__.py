"""Scheduled runs: cron expressions, and installing a cron line or a systemd timer."""
