from django.apps import AppConfig


class StargatePortalConfig(AppConfig):
    """The project package as an app: its management commands (``start``) and the Celery
    signal receivers that log and measure every task."""

    name = "stargate_portal"
    verbose_name = "Stargate Portal"

    def ready(self) -> None:
        from celery import signals

        from stargate_portal import logs

        signals.before_task_publish.connect(logs.task_headers_add, weak=False)
        signals.task_prerun.connect(logs.task_started, weak=False)
        signals.task_postrun.connect(logs.task_finished, weak=False)
