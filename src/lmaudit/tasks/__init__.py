"""Benchmarks: generic task types (`generic`), YAML task files (`yaml_task`), built-ins
(`builtins`, `arc_agi`, `text_corpus`) and the registry (`registry.load_task`)."""
