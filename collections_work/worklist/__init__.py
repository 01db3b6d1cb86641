"""The collector's worklist: queues and "Next account" (claim, claim_sql), the account
workspace and its actions (services), the managers' pages, and the timed jobs (tasks)."""
