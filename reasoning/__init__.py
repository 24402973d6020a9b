"""Framework-free normalisation of reasoning models' output.

Whatever a provider sends, callers get one stream of small typed events
(`reasoning.events`): reasoning and content apart, usage with reasoning tokens
apart, opaque replay data, and a finish reason. This package never imports Django.
"""
