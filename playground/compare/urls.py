from django.urls import path

from playground.compare import answer_diff
from playground.compare import views as compare

urlpatterns = [
    path("", compare.comparison_list, name="compare_list"),
    path("new/", compare.new_comparison, name="compare_new"),
    path("leaderboard/", compare.leaderboard_page, name="compare_leaderboard"),
    path("<int:pk>/", compare.comparison_detail, name="compare_detail"),
    path("<int:pk>/metrics", compare.comparison_metrics, name="compare_metrics"),
    path("<int:pk>/diff", answer_diff.comparison_diff, name="compare_diff"),
    path("<int:pk>/send", compare.send_prompt, name="compare_send"),
    path("<int:pk>/stop", compare.stop_all, name="compare_stop"),
    path("<int:pk>/vote", compare.vote, name="compare_vote"),
    path("<int:pk>/reveal", compare.reveal, name="compare_reveal"),
    path("<int:pk>/delete", compare.delete_comparison, name="compare_delete"),
]
