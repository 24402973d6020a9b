from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from playground import views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/new", views.new_conversation, name="new_conversation"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/delete", views.delete_conversation, name="delete_conversation"),
    path("compare/", include("playground.compare_urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health", views.health, name="health"),
    path("admin/", admin.site.urls),
]
