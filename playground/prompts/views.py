"""The prompt library page and ratings of assistant turns."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from playground.accounts.users import signed_in
from playground.models import Prompt, Rating, Turn
from reasoning.structured import check_schema


class PromptForm(forms.ModelForm):
    schema_text = forms.CharField(
        label="JSON Schema of the answer", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional. The final answer is asked for in this shape and checked against it.",
    )

    class Meta:
        model = Prompt
        fields = ["name", "system", "chain_of_thought", "thinking_instructions"]
        labels = {"system": "System prompt", "chain_of_thought": "Chain of thought"}
        help_texts = {
            "thinking_instructions": "Empty: “Think step by step, explaining your reasoning.”",
            "chain_of_thought": "Models that don't reason think first in a separate call; reasoning models "
            "get the instructions in their system prompt.",
        }
        widgets = {
            "system": forms.Textarea(attrs={"rows": 3}),
            "thinking_instructions": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, owner: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        if self.instance.schema is not None:
            self.initial["schema_text"] = json.dumps(self.instance.schema, indent=2)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        taken = Prompt.objects.filter(owner=self.owner, name=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("You already have a prompt with this name.")
        return name

    def clean_schema_text(self) -> Any:
        text = self.cleaned_data["schema_text"].strip()
        if not text:
            return None
        try:
            schema = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise forms.ValidationError(f"Not valid JSON: {e}") from None
        if problems := check_schema(schema):
            raise forms.ValidationError(f"Not a valid JSON Schema: {problems[0]}")
        return schema

    def save(self, commit: bool = True) -> Prompt:
        prompt = super().save(commit=False)
        prompt.owner = self.owner
        prompt.schema = self.cleaned_data["schema_text"]
        if commit:
            prompt.save()
        return prompt  # type: ignore[no-any-return]


def _own_prompt(request: HttpRequest, pk: int) -> Prompt:
    try:
        return Prompt.objects.get(pk=pk, owner=signed_in(request))
    except Prompt.DoesNotExist:
        raise Http404("No such prompt") from None


@require_http_methods(["GET", "POST"])
def prompts(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """The library: every prompt the user may pick, and a form for a new one or for editing one."""
    prompt = _own_prompt(request, pk) if pk is not None else None
    form = PromptForm(request.POST or None, instance=prompt, owner=signed_in(request))
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("prompts")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "editing": prompt, "prompts": Prompt.available_to(request.user)}
    return render(request, "prompts/library.html", context, status=status)


@require_POST
def delete_prompt(request: HttpRequest, pk: int) -> HttpResponse:
    _own_prompt(request, pk).delete()  # conversations keep their turns' snapshots
    return redirect("prompts")


@require_POST
def rate_turn(request: HttpRequest, pk: int) -> HttpResponse:
    """Thumbs up (1), down (-1) or cleared (0), with an optional note; returns the rating form."""
    try:
        turn = Turn.objects.get(pk=pk, conversation__owner=signed_in(request), role=Turn.Role.ASSISTANT)
    except Turn.DoesNotExist:
        raise Http404("No such answer") from None
    value = request.POST.get("value", "")
    if value not in ("1", "-1", "0"):
        return HttpResponse("value must be 1, -1 or 0", status=400, content_type="text/plain")
    if value == "0":
        Rating.objects.filter(turn=turn).delete()
    else:
        note = request.POST.get("note", "").strip()[:2000]
        Rating.objects.update_or_create(turn=turn, defaults={"value": int(value), "note": note})
    turn = Turn.objects.get(pk=pk)
    if request.headers.get("HX-Request"):
        return render(request, "chat/_rating.html", {"turn": turn})
    return redirect(turn.conversation.get_absolute_url())
