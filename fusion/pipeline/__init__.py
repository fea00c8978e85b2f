"""The conversion pipeline: plan (pass 1), execute (pass 2), convert, batch, demo."""
