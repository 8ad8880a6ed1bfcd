"""The reference service's traffic: an ordinary Locust file (`locustfile.py`) whose user
classes gameday's plugin runs. It uses only gameday's public API for Locust files
(`gameday.plugin.options`, `gameday.plugin.arrival`, `gameday.ledger`) and the corpus
the seeder indexed. Locust monkey-patches the standard library, so these modules run in
Locust's own processes, started by `gameday run`, never in pytest."""
