"""What subscriptions does when a lower app reports an event (connected in SubscriptionsConfig.ready)."""
