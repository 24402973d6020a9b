from django.urls import path

from playground.api import views

urlpatterns = [
    path("models", views.models, name="api_models"),
    path("chat/completions", views.chat_completions, name="api_chat_completions"),
]
