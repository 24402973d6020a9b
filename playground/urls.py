from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from playground import providers
from playground.accounts import oidc, signin
from playground.accounts import views as accounts
from playground.api import pages as api_pages
from playground.arena import views as arena_views
from playground.compare import views as compare_views
from playground.conversations import dataset_views, replay_views, tool_views, views
from playground.operations import health, metrics
from playground.prompts import views as prompts

urlpatterns = [
    path("", views.chat, name="chat"),
    path("c/new", views.new_conversation, name="new_conversation"),
    path("c/import", views.import_conversation, name="import_conversation"),
    path("c/search", views.search, name="search"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/delete", views.delete_conversation, name="delete_conversation"),
    path("c/<int:pk>/rename", views.rename_conversation, name="rename_conversation"),
    path("c/<int:pk>/pin", views.pin_conversation, name="pin_conversation"),
    path("c/<int:pk>/share", views.share_conversation, name="share_conversation"),
    path("s/<str:token>/", views.shared_conversation, name="shared_conversation"),
    path("c/<int:pk>/settings", views.save_settings, name="conversation_settings"),
    path("c/<int:pk>/tools", tool_views.save_tools, name="conversation_tools"),
    path("c/<int:pk>/functions/add", tool_views.add_function, name="add_function"),
    path("c/<int:pk>/functions/remove", tool_views.remove_function, name="remove_function"),
    path("c/<int:pk>/functions/load", tool_views.load_tool_set, name="load_tool_set"),
    path("c/<int:pk>/functions/save", tool_views.save_tool_set, name="save_tool_set"),
    path("c/<int:pk>/functions/delete-set", tool_views.delete_tool_set, name="delete_tool_set"),
    path("turns/<int:pk>/answer", tool_views.answer_tool, name="answer_tool"),
    path("c/<int:pk>/replay", replay_views.set_replay, name="conversation_replay"),
    path("turns/<int:pk>/resend", replay_views.resend_with_policy, name="resend_with_policy"),
    path("c/<int:pk>/export.md", views.export_markdown, name="export_markdown"),
    path("c/<int:pk>/export.json", views.export_json, name="export_json"),
    path("models/<int:pk>/controls", views.model_controls, name="model_controls"),
    path("turns/<int:pk>/regenerate", views.regenerate, name="regenerate"),
    # A compare column's answer: again with the column's own model and settings.
    path("turns/<int:pk>/regenerate-in-column", compare_views.regenerate_answer, name="compare_regenerate"),
    path("turns/<int:pk>/edit", views.edit, name="edit_turn"),
    path("turns/<int:pk>/show", views.switch_branch, name="switch_branch"),
    path("turns/<int:pk>/request", views.turn_request, name="turn_request"),
    path("turns/<int:pk>/raw", views.turn_raw, name="turn_raw"),
    path("settings/", accounts.settings_page, name="settings"),
    path("settings/tokens/new", api_pages.create, name="api_token_create"),
    path("settings/tokens/<int:pk>/revoke", api_pages.revoke_token, name="api_token_revoke"),
    path("prompts/", prompts.prompts, name="prompts"),
    path("prompts/<int:pk>/", prompts.prompts, name="edit_prompt"),
    path("prompts/<int:pk>/delete", prompts.delete_prompt, name="delete_prompt"),
    path("turns/<int:pk>/rate", prompts.rate_turn, name="rate_turn"),
    path("datasets/", dataset_views.dataset_page, name="dataset"),
    path("datasets/preview", dataset_views.dataset_preview, name="dataset_preview"),
    path("datasets/export.jsonl", dataset_views.dataset_export, name="dataset_export"),
    path("settings/theme", accounts.set_theme, name="set_theme"),
    path("settings/favourites", accounts.favourite_model, name="favourite_model"),
    path("providers/", providers.providers_page, name="providers"),
    path("providers/<int:pk>/connect", providers.reconnect, name="provider_reconnect"),
    path("providers/<int:pk>/models", providers.choose_models, name="provider_models"),
    path("providers/models/<int:pk>/capabilities", providers.model_capabilities_page, name="model_capabilities"),
    path("settings/keys/", accounts.provider_key, name="provider_key"),
    path("compare/", include("playground.compare.urls")),
    path("sweeps/", include("playground.sweeps.urls")),
    path("arena/", arena_views.arena, name="arena"),
    path("v1/", include("playground.api.urls")),
    path("login/", login_not_required(signin.LoginPage.as_view()), name="login"),
    path("logout/", signin.logout, name="logout"),
    path("oidc/signin/", login_not_required(oidc.SignInView.as_view()), name="oidc_signin"),
    path("oidc/callback/", login_not_required(oidc.CallbackView.as_view()), name="oidc_callback"),
    path("health", views.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]
