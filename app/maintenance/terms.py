"""Words every part of maintenance shares: the severities of rules and alarms."""

N_ = str

SEVERITIES = {
    "info": N_("Information"),
    "minor": N_("Mineure"),
    "major": N_("Majeure"),
    "critical": N_("Critique"),
}
SEVERITY_RANK = {"info": 0, "minor": 1, "major": 2, "critical": 3}
EDITED = "rule_edited"  # why an alarm cleared: its rule's condition was changed
