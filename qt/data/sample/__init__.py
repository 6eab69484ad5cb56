"""The bundled sample data (Parquet files) and their provenance note."""
