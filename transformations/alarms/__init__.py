"""Alarms: the rules model, the lifecycle each rule drives, and its replay over stored events."""
