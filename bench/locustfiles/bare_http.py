"""A bare HttpUser (python-requests), Locust's default client."""

from locust import HttpUser, constant, task


class BareHttp(HttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="GET /")
