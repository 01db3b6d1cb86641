"""Placing accounts with the agency: file intake (intake/), the one-account form, the API's
placement service, and placement history."""
