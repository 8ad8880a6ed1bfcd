-- The W3C traceparent of the request that wrote the event: the relay publishes the
-- message in that trace, so the indexer's spans join the write's trace.
ALTER TABLE outbox ADD COLUMN traceparent text;
