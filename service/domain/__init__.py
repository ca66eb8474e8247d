"""The domain: seller concepts, rules and decisions in plain Python (no Flask, no SQL)."""
