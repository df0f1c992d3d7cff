"""The producer: polls a market source and publishes ticks to Kafka."""
