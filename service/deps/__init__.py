"""One module per dependency: pool or client, start-up, health."""
