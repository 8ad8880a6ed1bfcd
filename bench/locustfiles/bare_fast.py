"""A bare FastHttpUser: the reference the harness's own user is compared with."""

from locust import FastHttpUser, constant, task


class BareFast(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="GET /")
