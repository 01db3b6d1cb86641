"""The outbox: every message and letter to debtors with its state, for agency staff; and the gate
that asks the contact policy before each email to a debtor goes out (portal.send_gate)."""
