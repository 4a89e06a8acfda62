"""From samples and a timeline to judged expectations, SLA gates, scores and a verdict."""
