from django.urls import path

from playground.compare.consumer import ComparisonColumnConsumer
from playground.conversations.consumer import ConversationConsumer

websocket_urlpatterns = [
    path("ws/conversations/<int:pk>/", ConversationConsumer.as_asgi()),
    path("ws/compare/<int:pk>/", ComparisonColumnConsumer.as_asgi()),
]
