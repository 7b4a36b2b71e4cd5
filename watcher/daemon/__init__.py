"""The long-running process: scheduler, leader lease, metrics, webhook receiver."""
