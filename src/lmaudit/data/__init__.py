"""Dataset loading: local jsonl/json/csv/parquet files and directories, Hugging Face ids."""
