"""Interoperability: other harnesses' logs in (lm-evaluation-harness, Inspect) and a
sample-by-sample diff that explains why two runs' scores differ."""
