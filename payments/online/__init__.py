"""Online card payments through each agency's own Stripe account: the keys (services), the
debtor's payment page and receipt (views), Stripe's webhooks (webhooks), saved cards and the
automatic plan payments the scheduler will call (autopay)."""
