from django.urls import path

from playground.sweeps import views

urlpatterns = [
    path("", views.sweep_list, name="sweep_list"),
    path("new/", views.new_sweep, name="sweep_new"),
    path("<int:pk>/", views.sweep_detail, name="sweep_detail"),
    path("<int:pk>/progress", views.sweep_progress, name="sweep_progress"),
    path("<int:pk>/stop", views.stop, name="sweep_stop"),
    path("<int:pk>/export.json", views.export_json, name="sweep_export_json"),
    path("<int:pk>/export.csv", views.export_csv, name="sweep_export_csv"),
    path("<int:pk>/thoughts", views.thought_diff_page, name="sweep_thought_diff"),
]
