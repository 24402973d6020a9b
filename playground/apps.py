from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "playground"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from playground.db_threads import close_request_connections
        from playground.security.sockets import connect_signals

        connect_signals()
        request_finished.connect(close_request_connections, dispatch_uid="playground-close-request-connections")
