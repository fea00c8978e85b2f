"""``fusion bench``: the project's measuring instrument (stages, ratios, memory)."""
